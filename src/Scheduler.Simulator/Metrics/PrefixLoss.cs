using Scheduler.Simulator.Engine;

namespace Scheduler.Simulator.Metrics;

/// <summary>
/// Where the prompt tokens an oracle would have served from a prefix cache went instead, judged at each admission from
/// the replicas' own caches: evicted from every replica, not cached yet because the request that sent them first is still
/// prefilling them, held only by replicas that could not take the job then (no slot or KV room), or held by one that
/// could but the placement chose another. Each is a share of all prompt tokens, so oracle − evicted − prefilling − full −
/// elsewhere is the hit rate (up to the order the oracle is taken in: arrivals, here admissions).
/// </summary>
internal sealed class PrefixLoss
{
    private readonly HashSet<ulong> _sent = [];
    private long _prompt;
    private long _oracle;
    private long _heldAnywhere;
    private long _heldOrPrefilling;
    private long _heldByFitting;
    private long _reused;

    /// <summary>Cacheable tokens that no replica held any more (nor was prefilling).</summary>
    public double Evicted => Share(_oracle - _heldOrPrefilling);

    /// <summary>Cacheable tokens no replica held yet: an earlier request was still prefilling them. Before 2026-12-06
    /// these were counted as evicted, which no eviction policy could have saved.</summary>
    public double StillPrefilling => Share(_heldOrPrefilling - _heldAnywhere);

    /// <summary>Tokens held only by replicas that could not take the job when it was placed.</summary>
    public double HolderFull => Share(_heldAnywhere - _heldByFitting);

    /// <summary>Tokens held by a replica that could take the job, which the placement did not choose.</summary>
    public double PlacedElsewhere => Share(_heldByFitting - _reused);

    /// <summary>Called as <paramref name="sequence"/> is admitted to <paramref name="chosen"/>, before it reaches that
    /// replica's cache.</summary>
    public void Admitted(SimSequence sequence, IReadOnlyList<SimReplica> replicas, SimReplica chosen)
    {
        var request = sequence.Request;
        _prompt += request.PromptTokens;
        if (request.Blocks is not { } blocks)
        {
            return;
        }

        var sent = 0;
        while (sent < blocks.Count && _sent.Contains(blocks.Hashes[sent]))
        {
            sent++;
        }

        foreach (var hash in blocks.Hashes)
        {
            _sent.Add(hash);
        }

        int anywhere = 0, fitting = 0, prefilling = 0;
        foreach (var replica in replicas)
        {
            var held = replica.CachedBlocks(blocks);
            anywhere = Math.Max(anywhere, held);
            prefilling = Math.Max(prefilling, replica.PrefillingBlocks(blocks));
            if (replica == chosen || (replica.View.Schedulable && replica.View.Fits(sequence.Demand)))
            {
                fitting = Math.Max(fitting, held);
            }
        }

        _oracle += blocks.CachedTokens(sent, request.PromptTokens);
        _heldAnywhere += blocks.CachedTokens(anywhere, request.PromptTokens);
        _heldOrPrefilling += blocks.CachedTokens(Math.Max(anywhere, prefilling), request.PromptTokens);
        _heldByFitting += blocks.CachedTokens(fitting, request.PromptTokens);
        _reused += blocks.CachedTokens(chosen.CachedBlocks(blocks), request.PromptTokens);
    }

    private double Share(long tokens) => _prompt == 0 ? 0 : tokens / (double)_prompt;
}
