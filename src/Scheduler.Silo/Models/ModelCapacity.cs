using System.Collections.Concurrent;
using Scheduler.Abstractions.Placement;

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

    private readonly ConcurrentDictionary<string, (long Tokens, DateTimeOffset At)> _known = new(StringComparer.Ordinal);

    /// <summary>The most tokens (prompt and max tokens) one job may take on a replica of <paramref name="model"/>: its KV
    /// cache, or less where one sequence's context or a metered endpoint's tokens per minute is smaller (its engine
    /// refuses a job that needs more, however long it waits: <c>ReplicaView.MaxJobTokens</c>); null while the model has
    /// no replica.</summary>
    public async ValueTask<long?> LargestKvCacheTokens(string model)
    {
        if (_known.TryGetValue(model, out var known) && time.GetUtcNow() - known.At < RefreshInterval)
        {
            return known.Tokens;
        }

        var snapshot = await grains.GetGrain<IPlacementGrain>(model).GetSnapshot();
        if (snapshot.Replicas.Length == 0)
        {
            return null;
        }

        var tokens = snapshot.Replicas.Max(MaxJobTokens);
        _known[model] = (tokens, time.GetUtcNow());
        return tokens;
    }

    // A placement of the version before sends no MaxJobTokens (0): its KV cache and rate limit are what it knew of.
    private static long MaxJobTokens(ReplicaSnapshot r) =>
        r.MaxJobTokens > 0 ? r.MaxJobTokens
        : r.TokensPerMinute > 0 ? Math.Min(r.KvCapacityTokens, r.TokensPerMinute) : r.KvCapacityTokens;
}
