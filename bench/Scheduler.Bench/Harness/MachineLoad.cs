namespace Scheduler.Bench.Harness;

/// <summary>
/// The 1-minute load average, read before and after the run. The machine is shared: builds and tests running
/// next to the benchmark take cores from it, and the report should say so rather than hide it.
/// </summary>
internal static class MachineLoad
{
    public static string Read()
    {
        try
        {
            // /proc/loadavg: "1-min 5-min 15-min running/total last-pid".
            return File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "n/a";
        }
        catch (IOException)
        {
            return "n/a";
        }
    }
}
