namespace Scheduler.Protos.Tls;

/// <summary>
/// Reads a set of files every interval (<see cref="Every"/>) or whenever <see cref="Check"/> asks, and hands their
/// contents on when they differ from the last contents accepted.
/// The contents are compared, not the files' times or a file watch: Kubernetes replaces a mounted Secret by swapping
/// a symlink to a new directory, which neither the link's write time nor a FileSystemWatcher on the files reliably shows.
/// Contents the consumer refuses (half written, not parseable) are not remembered, so the next read offers them
/// again: the consumer keeps what it had and warns each time, until the files are fixed.
/// </summary>
/// <param name="paths">The files, read together.</param>
/// <param name="accept">Given the contents (in <paramref name="paths"/>' order) when they changed; true when taken,
/// false when refused (they will be offered again).</param>
/// <param name="unreadable">Told why a file could not be read (mid-swap, a permission change); the next read retries.</param>
internal sealed class FileContentPoll(string[] paths, Func<string[], bool> accept, Action<Exception> unreadable)
{
    private readonly Lock _reading = new();

    // Nothing counts as accepted yet: the first read offers the files once more. Their contents read at start-up
    // may be older than the files are by the time the poll starts, and would then hide that change until the next one.
    private string[]? _accepted;

    /// <summary>Reads the files every <paramref name="interval"/> on <paramref name="time"/>'s timer until the result is disposed.</summary>
    public IDisposable Every(TimeSpan interval, TimeProvider time) => time.CreateTimer(_ => Poll(), null, interval, interval);

    /// <summary>Reads the files now and hands their contents on if they changed; returns once done, waiting for a
    /// read under way, so the caller acts on what the files hold now.</summary>
    public void Check()
    {
        lock (_reading)
        {
            Read();
        }
    }

    private void Poll()
    {
        // A read slower than the interval (a stalled volume) is not started twice.
        if (!_reading.TryEnter())
        {
            return;
        }

        try
        {
            Read();
        }
        finally
        {
            _reading.Exit();
        }
    }

    private void Read()
    {
        string[] contents;
        try
        {
            contents = Array.ConvertAll(paths, File.ReadAllText);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            unreadable(ex);
            return;
        }

        if (_accepted is { } accepted && accepted.SequenceEqual(contents, StringComparer.Ordinal))
        {
            return;
        }

        if (accept(contents))
        {
            _accepted = contents;
        }
    }
}
