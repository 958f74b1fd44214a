using System.Collections.Concurrent;
using System.Diagnostics;
using Grpc.Core;

namespace Scheduler.Bench.Restart;

/// <summary>One kind of call made again and again while the restarted silo rebuilds: when each was made (seconds
/// after the silo's start), how long it took, and how it failed if it did.</summary>
internal sealed class TimedCalls(string name, DateTime origin)
{
    private readonly ConcurrentQueue<(double At, double Ms, StatusCode? Failure)> _calls = new();

    public string Name { get; } = name;

    /// <summary>Makes the call once, with a 30 s deadline, and records it.</summary>
    public async Task TimeAsync(Func<DateTime, Task> call)
    {
        var at = (DateTime.UtcNow - origin).TotalSeconds;
        var started = Stopwatch.GetTimestamp();
        StatusCode? failure = null;
        try
        {
            await call(DateTime.UtcNow.AddSeconds(30));
        }
        catch (RpcException ex)
        {
            failure = ex.StatusCode;
        }

        _calls.Enqueue((at, Stopwatch.GetElapsedTime(started).TotalMilliseconds, failure));
    }

    /// <summary>The calls made until <paramref name="until"/> seconds: the first that succeeded, the median and
    /// slowest of those that succeeded, and the failures by status with when the last of each was made.</summary>
    public string Describe(double until)
    {
        var calls = _calls.Where(c => c.At <= until).ToList();
        var succeeded = calls.Where(c => c.Failure is null).OrderBy(c => c.At).ToList();
        if (succeeded.Count == 0)
        {
            return $"{Name}: none of {calls.Count} calls succeeded";
        }

        var ms = succeeded.Select(c => c.Ms).Order().ToList();
        var slowest = succeeded.MaxBy(c => c.Ms);
        var failures = calls.Where(c => c.Failure is not null).GroupBy(c => c.Failure)
            .Select(g => $"{g.Count()} {g.Key} (the last made at {g.Max(c => c.At):F1} s)");
        return $"{Name}: first answered call made at {succeeded[0].At:F1} s, took {succeeded[0].Ms:F0} ms; {succeeded.Count} answered, "
            + $"median {ms[ms.Count / 2]:F0} ms, slowest {slowest.Ms:F0} ms (made at {slowest.At:F1} s); failed: {string.Join(", ", failures.DefaultIfEmpty("none"))}";
    }
}
