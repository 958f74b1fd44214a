using System.Collections.Concurrent;
using Scheduler.Abstractions.Placement;

namespace Scheduler.Silo.Models;

/// <summary>
/// The largest KV cache among each model's replicas, as the model's placement knows them, for the front door: a job
/// whose prompt and output no replica can hold would wait in its queue for good, so it is refused instead. Read from
/// the placement at most every <see cref="RefreshInterval"/> per model and silo, not per submission; a model with no
/// replica yet is asked again each time (its jobs wait for the first node, whatever its size).
/// </summary>
internal sealed class ModelCapacity(IGrainFactory grains, TimeProvider time)
{
    /// <summary>How stale the figure may be: a larger replica that just registered is seen this much later.</summary>
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<string, (long Tokens, DateTimeOffset At)> _known = new(StringComparer.Ordinal);

    /// <summary>The most KV-cache tokens one replica of <paramref name="model"/> holds; null while it has no replica.</summary>
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

        var tokens = snapshot.Replicas.Max(r => r.KvCapacityTokens);
        _known[model] = (tokens, time.GetUtcNow());
        return tokens;
    }
}
