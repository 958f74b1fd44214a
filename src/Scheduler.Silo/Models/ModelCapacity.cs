using System.Collections.Concurrent;
using Scheduler.Abstractions.Placement;
using Scheduler.Policies;

namespace Scheduler.Silo.Models;

/// <summary>
/// The most one job may take on any of each model's replicas, as the model's placement knows them, for the front door: a
/// job whose prompt and output no replica can take would wait in its queue for good, so it is refused instead. Read from
/// the placement at most every <see cref="RefreshInterval"/> per model and silo, not per submission; a model with no
/// replica yet is asked again each time (its jobs wait for the first node, whatever its size).
/// </summary>
internal sealed class ModelCapacity(IGrainFactory grains, TimeProvider time)
{
    /// <summary>How stale the figure may be: a larger replica that just registered is seen this much later.</summary>
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<string, (ReplicaLimits Limits, DateTimeOffset At)> _known = new(StringComparer.Ordinal);

    /// <summary>What the replicas of <paramref name="model"/> can take, together: the most tokens (prompt and max tokens)
    /// one job may take on one of them — its KV cache, or less where one sequence's context or a metered endpoint's tokens
    /// per minute is smaller (its engine refuses a job that needs more, however long it waits: <c>ReplicaView.MaxJobTokens</c>)
    /// — and the prompt forms any of them takes; null while the model has no replica.</summary>
    public async ValueTask<ReplicaLimits?> Limits(string model)
    {
        if (_known.TryGetValue(model, out var known) && time.GetUtcNow() - known.At < RefreshInterval)
        {
            return known.Limits;
        }

        var snapshot = await grains.GetGrain<IPlacementGrain>(model).GetSnapshot();
        if (snapshot.Replicas.Length == 0)
        {
            return null;
        }

        var limits = new ReplicaLimits(
            snapshot.Replicas.Max(MaxJobTokens),
            snapshot.Replicas.Aggregate(PromptForms.None, (forms, r) => forms | r.AcceptedForms));
        _known[model] = (limits, time.GetUtcNow());
        return limits;
    }

    // A placement of the version before sends no MaxJobTokens (0): its KV cache and rate limit are what it knew of.
    private static long MaxJobTokens(ReplicaSnapshot r) =>
        r.MaxJobTokens > 0 ? r.MaxJobTokens
        : r.TokensPerMinute > 0 ? Math.Min(r.KvCapacityTokens, r.TokensPerMinute) : r.KvCapacityTokens;
}

/// <summary>What a model's replicas can take together (<see cref="ModelCapacity.Limits"/>).</summary>
internal readonly record struct ReplicaLimits(long MaxJobTokens, PromptForms Forms);
