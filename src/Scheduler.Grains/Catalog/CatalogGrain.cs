using Scheduler.Abstractions.Catalog;

namespace Scheduler.Grains.Catalog;

[GenerateSerializer, Alias("scheduler.CatalogState")]
public sealed class CatalogState
{
    [Id(0)] public SortedSet<string> Tenants { get; set; } = new(StringComparer.Ordinal);
    [Id(1)] public SortedSet<string> Nodes { get; set; } = new(StringComparer.Ordinal);
    [Id(2)] public SortedSet<string> Accelerators { get; set; } = new(StringComparer.Ordinal);
    [Id(3)] public SortedSet<string> Replicas { get; set; } = new(StringComparer.Ordinal);
    [Id(4)] public SortedSet<string> Models { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>The index of what exists, for admin listings.</summary>
internal sealed class CatalogGrain(
    [PersistentState("catalog", StorageNames.Default)] IPersistentState<CatalogState> state,
    OwnedStateWrites writes) : Grain, ICatalogGrain
{
    public async Task AddTenant(string tenantId)
    {
        if (state.State.Tenants.Add(tenantId))
        {
            await writes.Write(state);
        }
    }

    public async Task AddNode(string nodeId, string[] acceleratorIds, string[] replicaIds, string[] models)
    {
        var s = state.State;
        var changed = s.Nodes.Add(nodeId);
        changed |= AddAll(s.Accelerators, acceleratorIds);
        changed |= AddAll(s.Replicas, replicaIds);
        changed |= AddAll(s.Models, models);
        if (changed)
        {
            await writes.Write(state);
        }
    }

    public async Task RemoveNode(string nodeId, string[] acceleratorIds, string[] replicaIds)
    {
        var s = state.State;
        var changed = s.Nodes.Remove(nodeId);
        changed |= s.Accelerators.RemoveWhere(acceleratorIds.Contains) > 0;
        changed |= s.Replicas.RemoveWhere(replicaIds.Contains) > 0;
        if (changed)
        {
            await writes.Write(state);
        }
    }

    public Task<CatalogSnapshot> Get()
    {
        var s = state.State;
        return Task.FromResult(new CatalogSnapshot([.. s.Tenants], [.. s.Nodes], [.. s.Accelerators], [.. s.Replicas], [.. s.Models]));
    }

    public Task<CatalogFleet> GetFleet()
    {
        var s = state.State;
        return Task.FromResult(new CatalogFleet(s.Tenants.Count, s.Nodes.Count, [.. s.Accelerators], s.Replicas.Count));
    }

    public Task<string[]> ListTenants(string after, int count)
    {
        var tenants = state.State.Tenants;

        // A view from the cursor on is found in log time; a cursor past the last id (a tenant id sorts anywhere) has none.
        IEnumerable<string> from = after.Length == 0 || tenants.Count == 0 ? tenants
            : string.CompareOrdinal(after, tenants.Max) >= 0 ? []
            : tenants.GetViewBetween(after, tenants.Max!);
        return Task.FromResult(from.SkipWhile(id => id == after).Take(count).ToArray());
    }

    private static bool AddAll(SortedSet<string> set, string[] items)
    {
        var changed = false;
        foreach (var item in items)
        {
            changed |= set.Add(item);
        }

        return changed;
    }
}
