using System.Globalization;

namespace Scheduler.Bench.Llama.Direct;

/// <summary>
/// The calling thread's own CPU time, from Linux's <c>/proc/thread-self/schedstat</c> (nanoseconds on a CPU). Unlike wall
/// time it does not grow while the thread waits for a core, so on a machine other work loads it still says what the
/// work cost. The direct drivers run the engine's steps on one thread, and llama.cpp with one thread decodes on it.
/// </summary>
internal static class ThreadCpu
{
    private const string SchedStat = "/proc/thread-self/schedstat";

    /// <summary>True where the clock can be read (Linux).</summary>
    public static bool Available { get; } = File.Exists(SchedStat);

    /// <summary>CPU seconds the calling thread has run, or 0 where <see cref="Available"/> is false.</summary>
    public static double Seconds()
    {
        if (!Available)
        {
            return 0;
        }

        // "time on a CPU (ns) time waiting to run (ns) timeslices"
        var fields = File.ReadAllText(SchedStat);
        return long.Parse(fields.AsSpan(0, fields.IndexOf(' ')), NumberStyles.None, CultureInfo.InvariantCulture) / 1e9;
    }
}
