namespace Scheduler.Policies.Placement;

public sealed partial class ReplicaSet
{
    /// <summary>At most this many of a prefix's holders are visited, the latest to store it first: a prompt shared by
    /// the whole fleet (a common system prompt) gains nothing from visiting every replica, and the decision stays cheap.</summary>
    internal const int MaxPrefixHoldersVisited = 32;

    /// <summary>The replicas whose prefix index holds each prompt's first block.</summary>
    internal PrefixHolders PrefixHolders { get; } = new();

    // Filled by PrefixHoldersOf on every decision: one buffer per set, which one placement uses at a time.
    private readonly HeldPrefix[] _held = new HeldPrefix[MaxPrefixHoldersVisited];

    /// <summary>The replicas open in this round, with a free slot and KV room for <paramref name="job"/>, that are listed
    /// as holding its first block (at most <see cref="MaxPrefixHoldersVisited"/>, latest first), each with the prompt
    /// tokens it is expected to hold cached. Valid until the next call.</summary>
    internal ReadOnlySpan<HeldPrefix> PrefixHoldersOf(JobDemand job)
    {
        if (job.Blocks is not { } blocks || PrefixHolders.Of(blocks.Root) is not { } holders)
        {
            return [];
        }

        var found = 0;
        for (var i = holders.Count - 1; i >= 0 && found < MaxPrefixHoldersVisited; i--)
        {
            var holder = holders[i];
            if (holder.Entry is not { } entry || entry.Owner != this)
            {
                // Replaced in (or removed from) this set since it stored the prompt.
                holders.RemoveAt(i);
                continue;
            }

            if (Takes(entry, job))
            {
                _held[found++] = new HeldPrefix(entry, holder.CachedPromptTokens(job));
            }
        }

        return _held.AsSpan(0, found);
    }

    /// <summary>True when <paramref name="replica"/> is this set's, open in this round, with a free slot and KV room for
    /// <paramref name="job"/>.</summary>
    internal bool TakesJob(ReplicaView replica, JobDemand job) => replica.Entry is { } entry && entry.Owner == this && Takes(entry, job);
}
