using System.Collections.Concurrent;
using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Jobs;
using Scheduler.Abstractions.Placement;
using Scheduler.Abstractions.Tenants;

namespace Scheduler.Grains;

/// <summary>
/// The grain references a job's path asks for on every job — its tenant, its model's placement, its record, the node
/// and replica that run it — kept and handed out again instead of asking the grain factory each time. A
/// <see cref="IGrainFactory.GetGrain{TGrainInterface}(string, string)"/> resolves the interface's grain type by
/// reflection and builds a new proxy with its argument copiers: 5–9 % of a job's CPU in the per-hop profile
/// (docs/benchmarks.md). A reference is immutable and safe to share between threads and grains, so one per key serves
/// every caller in the silo. Each kind is bounded: past its limit it is emptied and refills with the keys in use.
/// </summary>
public sealed class GrainReferences(IGrainFactory grains)
{
    // Tenants, models, nodes and replicas are few; jobs are many, but a job's references are asked for within the
    // seconds it runs (submit, admission, outcome, its client's stream), so the bound only needs to cover jobs in flight.
    internal const int FewLimit = 4_096;
    internal const int JobLimit = 16_384;

    private readonly Kind<ITenantGrain> _tenants = new(grains, FewLimit);
    private readonly Kind<IPlacementGrain> _placements = new(grains, FewLimit);
    private readonly Kind<IWorkerNodeGrain> _nodes = new(grains, FewLimit);
    private readonly Kind<IReplicaGrain> _replicas = new(grains, FewLimit);
    private readonly Kind<IJobGrain> _jobs = new(grains, JobLimit);
    private readonly Kind<ITtftWindowGrain> _ttftWindows = new(grains, FewLimit);

    /// <summary>The tenant's grain.</summary>
    public ITenantGrain Tenant(string tenantId) => _tenants.Get(tenantId);

    /// <summary>The model's placement grain.</summary>
    public IPlacementGrain Placement(string model) => _placements.Get(model);

    /// <summary>The worker node's grain.</summary>
    public IWorkerNodeGrain Node(string nodeId) => _nodes.Get(nodeId);

    /// <summary>The replica's grain.</summary>
    public IReplicaGrain Replica(string replicaId) => _replicas.Get(replicaId);

    /// <summary>The job's record.</summary>
    public IJobGrain Job(string jobId) => _jobs.Get(jobId);

    /// <summary>The model's TTFT-attainment window.</summary>
    public ITtftWindowGrain TtftWindow(string model) => _ttftWindows.Get(model);

    private sealed class Kind<T>(IGrainFactory grains, int limit) where T : IGrainWithStringKey
    {
        private readonly ConcurrentDictionary<string, T> _references = new(StringComparer.Ordinal);

        // Counted here: ConcurrentDictionary.Count takes every bucket lock, which a miss per job must not.
        private int _count;

        public T Get(string key)
        {
            if (_references.TryGetValue(key, out var reference))
            {
                return reference;
            }

            reference = grains.GetGrain<T>(key);
            if (_references.TryAdd(key, reference) && Interlocked.Increment(ref _count) > limit)
            {
                // Racing adds may survive the clear or be counted twice: the bound is approximate, never exceeded by much.
                _references.Clear();
                Interlocked.Exchange(ref _count, 0);
            }

            return reference;
        }
    }
}
