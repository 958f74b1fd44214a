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

    /// <summary>What the command replays instead of the trace's rows, when it makes its own requests (the flood
    /// scenario draws only their sizes from the trace), and which options make fewer; null when it replays the rows.</summary>
    public (string What, string Fewer)? Generated { get; private set; }

    /// <summary>The command replays <paramref name="what"/>, which <paramref name="fewer"/> make smaller, not the rows of
    /// the trace it read: cutting the trace would not help.</summary>
    public void Generating(string what, string fewer) => Generated = (what, fewer);

    /// <summary>Line <paramref name="number"/> of <paramref name="path"/> was read.</summary>
    public void Line(string path, int number) => (Path, Lines, ReadWhole) = (path, number, false);

    /// <summary><paramref name="path"/> was read to its end, <paramref name="lines"/> lines.</summary>
    public void End(string path, int lines) => (Path, Lines, ReadWhole) = (path, lines, true);
}
