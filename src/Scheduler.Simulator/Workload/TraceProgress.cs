namespace Scheduler.Simulator.Workload;

/// <summary>
/// Which trace file a command read last and how far it got, kept as it reads (<see cref="TraceInput.Lines"/>): running
/// out of memory is reported once the stack that held the reader has unwound, so what it was at is kept here, in an
/// object made beforehand, for the error to name.
/// </summary>
internal sealed class TraceProgress
{
    /// <summary>The file read last; null before any.</summary>
    public string? Path { get; private set; }

    /// <summary>Lines of <see cref="Path"/> read so far.</summary>
    public int Lines { get; private set; }

    /// <summary>Whether <see cref="Path"/> was read to its end (the command went on to replay it).</summary>
    public bool ReadWhole { get; private set; }

    /// <summary>Line <paramref name="number"/> of <paramref name="path"/> was read.</summary>
    public void Line(string path, int number) => (Path, Lines, ReadWhole) = (path, number, false);

    /// <summary><paramref name="path"/> was read to its end, <paramref name="lines"/> lines.</summary>
    public void End(string path, int lines) => (Path, Lines, ReadWhole) = (path, lines, true);
}
