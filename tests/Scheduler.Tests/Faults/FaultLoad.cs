using System.Collections.Concurrent;
using System.Diagnostics;
using Scheduler.Client;
using Scheduler.Protos.V1;

namespace Scheduler.Tests.Faults;

/// <summary>One job of a fault load: what was asked, what came back, and when.</summary>
public sealed record LoadedJob(int Index, int Tenant, string IdempotencyKey, int MaxTokens, TimeSpan Started, TimeSpan Finished, JobResult? Result, Exception? Error);

/// <summary>
/// Drives a bounded load of streamed jobs from several tenants through <see cref="FailoverJobRunner"/>s spread over
/// the silos, the way well-behaved clients would ride out a failure — or, <paramref name="multiplexed"/>, through
/// <see cref="MultiplexedJobRunner"/>s, one per tenant and first silo, each carrying its lanes' jobs over one
/// <c>StreamJobs</c> call. Stops by itself when every job has ended.
/// </summary>
public sealed class FaultLoad(FaultCluster cluster, int jobs, int concurrency, int minTokens, int maxTokens, bool multiplexed = false)
{
    private readonly ConcurrentBag<LoadedJob> _done = [];
    private readonly Stopwatch _clock = new();
    private int _next = -1;
    private int _completed;

    public string RunId { get; } = Guid.NewGuid().ToString("N")[..8];

    /// <summary>Time since the load started.</summary>
    public TimeSpan Elapsed => _clock.Elapsed;

    public int Completed => Volatile.Read(ref _completed);

    public IReadOnlyCollection<LoadedJob> Results => _done;

    public static string KeyOf(string runId, int index) => $"fault-{runId}-{index}";

    public async Task RunAsync(TimeSpan timeout)
    {
        _clock.Start();
        var deadline = DateTime.UtcNow + timeout;
        var shared = new Dictionary<(int Tenant, int Silo), MultiplexedJobRunner>();
        try
        {
            var lanes = Enumerable.Range(0, concurrency).Select(lane => Task.Run(() => LaneAsync(lane, deadline, shared)));
            await Task.WhenAll(lanes);
        }
        finally
        {
            foreach (var runner in shared.Values)
            {
                runner.Dispose();
            }
        }
    }

    private async Task LaneAsync(int lane, DateTime deadline, Dictionary<(int Tenant, int Silo), MultiplexedJobRunner> shared)
    {
        var tenantIndex = lane % FaultCluster.Tenants.Length;
        var tenant = FaultCluster.Tenants[tenantIndex];

        // Lanes start on different silos, so every silo carries streams when one fails.
        var first = lane % cluster.Addresses.Count;
        var addresses = cluster.Addresses.Skip(first).Concat(cluster.Addresses.Take(first)).ToList();
        using var own = multiplexed ? null : new FailoverJobRunner(addresses, tenant.Key);
        IJobRunner runner = (IJobRunner?)own ?? Shared(shared, (tenantIndex, first), () => new MultiplexedJobRunner(addresses, tenant.Key));
        while (true)
        {
            var index = Interlocked.Increment(ref _next);
            if (index >= jobs)
            {
                return;
            }

            var tokens = minTokens + (index * 7 % (maxTokens - minTokens + 1));
            var key = KeyOf(RunId, index);
            var request = new SubmitJobRequest { Model = FaultCluster.Model, Prompt = $"fault job {index} of {RunId}", MaxTokens = tokens, IdempotencyKey = key };
            var started = _clock.Elapsed;
            try
            {
                var result = await runner.RunAsync(request, deadline: deadline);
                _done.Add(new LoadedJob(index, tenantIndex, key, tokens, started, _clock.Elapsed, result, null));
            }
            catch (Exception ex)
            {
                _done.Add(new LoadedJob(index, tenantIndex, key, tokens, started, _clock.Elapsed, null, ex));
            }

            Interlocked.Increment(ref _completed);
        }
    }

    private static MultiplexedJobRunner Shared(
        Dictionary<(int Tenant, int Silo), MultiplexedJobRunner> shared, (int Tenant, int Silo) key, Func<MultiplexedJobRunner> open)
    {
        lock (shared)
        {
            return shared.TryGetValue(key, out var runner) ? runner : shared[key] = open();
        }
    }

    /// <summary>Runs the whole load and strikes <paramref name="fault"/> once <paramref name="afterCompleted"/> jobs have
    /// ended; returns when the fault struck (time since the load started). <paramref name="timeout"/> (4 minutes by
    /// default) is every job's deadline, counted from the start: a test that must fail fast sets less.</summary>
    public async Task<TimeSpan> RunWithFaultAsync(int afterCompleted, Func<Task> fault, TimeSpan? timeout = null)
    {
        var run = RunAsync(timeout ?? TimeSpan.FromMinutes(4));
        await WhenCompleted(afterCompleted, TimeSpan.FromMinutes(2));
        var struck = Elapsed;
        await fault();
        await run;
        return struck;
    }

    /// <summary>Waits until at least <paramref name="count"/> jobs have ended.</summary>
    public async Task WhenCompleted(int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (Completed < count)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"only {Completed} of {count} jobs ended within {timeout}");
            }

            await Task.Delay(20);
        }
    }
}
