using System.Diagnostics.Metrics;
using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Placement;
using Scheduler.Policies;

namespace Scheduler.Silo.Telemetry;

/// <summary>
/// The last reading of the fleet's state, as the gauges report it: what <see cref="FleetGaugeRefresher"/> read from
/// the grains, already shaped as measurements, so a scrape only copies a reference and never calls a grain.
/// </summary>
internal sealed class FleetGauges
{
    private FleetReading _current = FleetReading.Empty;

    public FleetReading Current => Volatile.Read(ref _current);

    public void Publish(FleetReading reading) => Volatile.Write(ref _current, reading);
}

/// <summary>One reading of every fleet gauge; empty on a silo that does not report them.</summary>
internal sealed record FleetReading(
    Measurement<long>[] QueuedJobs,
    Measurement<long>[] RunningSequences,
    Measurement<long>[] FreeSlots,
    Measurement<long>[] KvTokensUsed,
    Measurement<long>[] KvTokensCapacity,
    Measurement<long>[] Accelerators,
    Measurement<long>[] WantedReplicas)
{
    public static FleetReading Empty { get; } = new([], [], [], [], [], [], []);

    /// <summary>Shapes the placements' snapshots and the accelerators' states as measurements. Every state is counted
    /// for every product, zeros included, so an alert on lost accelerators sees 0 rather than no data. Without
    /// <paramref name="byTenant"/> the queued jobs are counted per model and priority, all tenants together.</summary>
    public static FleetReading From(IEnumerable<PlacementSnapshot> placements, IEnumerable<AcceleratorInfo> accelerators, bool byTenant = true)
    {
        var queued = new List<Measurement<long>>();
        var running = new List<Measurement<long>>();
        var free = new List<Measurement<long>>();
        var kvUsed = new List<Measurement<long>>();
        var kvCapacity = new List<Measurement<long>>();
        var wanted = new List<Measurement<long>>();
        foreach (var placement in placements)
        {
            var model = new KeyValuePair<string, object?>(SemanticConventions.RequestModel, placement.Model);
            foreach (var pool in placement.Capacity?.Pools ?? [])
            {
                wanted.Add(new(pool.WantedReplicas, model, new(SemanticConventions.WorkerPool, pool.Pool), new(SemanticConventions.AcceleratorProduct, pool.Product)));
            }

            var queues = placement.QueuedByTenantAndPriority ?? [];
            if (byTenant)
            {
                foreach (var q in queues)
                {
                    queued.Add(new(q.Count, model, new(SemanticConventions.Tenant, q.TenantId), new(SemanticConventions.Priority, PriorityName(q.Priority))));
                }
            }
            else
            {
                foreach (var priority in queues.GroupBy(q => q.Priority))
                {
                    queued.Add(new(priority.Sum(q => (long)q.Count), model, new(SemanticConventions.Priority, PriorityName(priority.Key))));
                }
            }

            foreach (var r in placement.Replicas)
            {
                KeyValuePair<string, object?>[] tags =
                [
                    model,
                    new(SemanticConventions.ReplicaId, r.ReplicaId),
                    new(SemanticConventions.NodeId, r.NodeId),
                    new(SemanticConventions.AcceleratorProduct, r.Product),
                ];
                running.Add(new(r.RunningSequences, tags));
                free.Add(new(Math.Max(0, r.MaxSequences - r.RunningSequences), tags));
                kvUsed.Add(new(r.KvCapacityTokens - r.FreeKvTokens, tags));
                kvCapacity.Add(new(r.KvCapacityTokens, tags));
            }
        }

        var byState = accelerators
            .GroupBy(a => (a.Registration.Profile.Product, a.State))
            .ToDictionary(g => g.Key, g => g.Count());
        var counts = new List<Measurement<long>>();
        foreach (var product in byState.Keys.Select(k => k.Product).Distinct(StringComparer.Ordinal))
        {
            foreach (var state in Enum.GetValues<AcceleratorState>())
            {
                counts.Add(new(
                    byState.GetValueOrDefault((product, state)),
                    new(SemanticConventions.AcceleratorProduct, product),
                    new(SemanticConventions.AcceleratorState, state.ToString().ToLowerInvariant())));
            }
        }

        return new([.. queued], [.. running], [.. free], [.. kvUsed], [.. kvCapacity], [.. counts], [.. wanted]);
    }

    private static string PriorityName(JobPriority priority) => priority.ToString().ToLowerInvariant();
}
