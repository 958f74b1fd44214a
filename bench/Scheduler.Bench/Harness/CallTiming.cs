using System.Diagnostics;

namespace Scheduler.Bench.Harness;

/// <summary>
/// When one call produced its first response and when it finished, in <see cref="Stopwatch"/> ticks from the
/// call's start. A unary call has both at once; a streamed job has its first token and its completion.
/// </summary>
internal readonly record struct CallTiming(long FirstTicks, long TotalTicks)
{
    public static CallTiming Unary(long ticks) => new(ticks, ticks);
}

/// <summary>One measured call: starts, awaits the whole call, and says how long its parts took.</summary>
internal delegate Task<CallTiming> TimedCall(CancellationToken cancellationToken);
