using System.Runtime.InteropServices;

namespace Scheduler.Tests;

/// <summary>
/// The CPU time the calling thread has used (Linux' CLOCK_THREAD_CPUTIME_ID): what complexity guards measure, since a
/// loaded machine stretches wall-clock time by however long the thread waits for a core (a 2-core CI at load 30 made
/// a 20 ms loop read 280 ms), while the work a loop does is the same.
/// </summary>
internal static class ThreadCpuTime
{
    private const int ThreadCpuClock = 3;

    public static TimeSpan Now()
    {
        if (ClockGetTime(ThreadCpuClock, out var now) != 0)
        {
            throw new InvalidOperationException($"clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed: errno {Marshal.GetLastPInvokeError()}");
        }

        return TimeSpan.FromSeconds(now.Seconds) + TimeSpan.FromTicks(now.Nanoseconds / 100);
    }

    /// <summary>The calling thread's CPU time spent in <paramref name="work"/> (synchronous: the thread must not change).</summary>
    public static TimeSpan Of(Action work)
    {
        var start = Now();
        work();
        return Now() - start;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [DllImport("libc", EntryPoint = "clock_gettime", SetLastError = true)]
    private static extern int ClockGetTime(int clock, out Timespec time);
}
