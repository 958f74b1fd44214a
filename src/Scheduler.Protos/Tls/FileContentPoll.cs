namespace Scheduler.Protos.Tls;

/// <summary>
/// Reads a set of files every interval and hands their contents on when they differ from the last contents accepted.
/// The contents are compared, not the files' times or a file watch: Kubernetes replaces a mounted Secret by swapping
/// a symlink to a new directory, which neither the link's write time nor a FileSystemWatcher on the files reliably shows.
/// Contents the consumer refuses (half written, not parseable) are not remembered, so the next interval offers them
/// again: the consumer keeps what it had and warns each time, until the files are fixed.
/// </summary>
internal sealed class FileContentPoll : IDisposable
{
    private readonly string[] _paths;
    private readonly Func<string[], bool> _accept;
    private readonly Action<Exception> _unreadable;
    private readonly Lock _reading = new();
    private readonly ITimer _timer;

    // Nothing counts as accepted yet: the first interval offers the files once more. Their contents read at start-up
    // may be older than the files are by the time the poll starts, and would then hide that change until the next one.
    private string[]? _accepted;

    /// <param name="paths">The files, read together each interval.</param>
    /// <param name="interval">How often.</param>
    /// <param name="time">The clock the timer runs on.</param>
    /// <param name="accept">Given the contents (in <paramref name="paths"/>' order) when they changed; true when taken,
    /// false when refused (they will be offered again).</param>
    /// <param name="unreadable">Told why a file could not be read (mid-swap, a permission change); the next interval retries.</param>
    public FileContentPoll(string[] paths, TimeSpan interval, TimeProvider time, Func<string[], bool> accept, Action<Exception> unreadable)
    {
        _paths = paths;
        _accept = accept;
        _unreadable = unreadable;
        _timer = time.CreateTimer(_ => Poll(), null, interval, interval);
    }

    public void Dispose() => _timer.Dispose();

    private void Poll()
    {
        // A read slower than the interval (a stalled volume) is not started twice.
        if (!_reading.TryEnter())
        {
            return;
        }

        try
        {
            string[] contents;
            try
            {
                contents = Array.ConvertAll(_paths, File.ReadAllText);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                _unreadable(ex);
                return;
            }

            if (_accepted is { } accepted && accepted.SequenceEqual(contents, StringComparer.Ordinal))
            {
                return;
            }

            if (_accept(contents))
            {
                _accepted = contents;
            }
        }
        finally
        {
            _reading.Exit();
        }
    }
}
