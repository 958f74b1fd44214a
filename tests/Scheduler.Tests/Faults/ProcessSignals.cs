using System.Globalization;

namespace Scheduler.Tests.Faults;

/// <summary>Signals to processes a test started, by PID, in one command as an operator's <c>kill</c> would
/// (<c>-STOP</c> freezes one as a stalled VM would, <c>-CONT</c> wakes it).</summary>
internal static class ProcessSignals
{
    public static void Send(string signal, params int[] pids)
    {
        if (!TrySend(signal, pids))
        {
            throw new InvalidOperationException($"kill -{signal} {string.Join(' ', pids)} failed");
        }
    }

    /// <summary>False when a process was gone already (or the signal refused): for a stop that may race the process's
    /// own exit.</summary>
    public static bool TrySend(string signal, params int[] pids)
    {
        using var kill = System.Diagnostics.Process.Start("kill", [$"-{signal}", .. pids.Select(p => p.ToString(CultureInfo.InvariantCulture))]);
        kill.WaitForExit();
        return kill.ExitCode == 0;
    }
}
