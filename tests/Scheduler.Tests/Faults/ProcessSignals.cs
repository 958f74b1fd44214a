using System.Globalization;

namespace Scheduler.Tests.Faults;

/// <summary>Signals to processes a test started, by PID, in one command as an operator's <c>kill</c> would
/// (<c>-STOP</c> freezes one as a stalled VM would, <c>-CONT</c> wakes it).</summary>
internal static class ProcessSignals
{
    public static void Send(string signal, params int[] pids)
    {
        using var kill = System.Diagnostics.Process.Start("kill", [$"-{signal}", .. pids.Select(p => p.ToString(CultureInfo.InvariantCulture))]);
        kill.WaitForExit();
        if (kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"kill -{signal} {string.Join(' ', pids)} exited with {kill.ExitCode}");
        }
    }
}
