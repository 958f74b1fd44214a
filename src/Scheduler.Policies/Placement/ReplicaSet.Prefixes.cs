namespace Scheduler.Policies.Placement;

public sealed partial class ReplicaSet
{
    /// <summary>At most this many of a prefix's holders are visited, the latest to store it first: a prompt shared by
    /// the whole fleet (a common system prompt) gains nothing from visiting every replica, and the decision stays cheap.</summary>
    internal const int MaxPrefixHoldersVisited = 32;

    /// <summary>The replicas whose prefix index holds each prompt's first block.</summary>
    internal PrefixHolders PrefixHolders { get; } = new();

    /// <summary>Visits the replicas open in this round, with a free slot and KV room for <paramref name="job"/>, that
    /// are listed as holding its first block (at most <see cref="MaxPrefixHoldersVisited"/>, latest first).</summary>
    internal void VisitPrefixHolders<TVisitor>(JobDemand job, ref TVisitor visitor)
        where TVisitor : struct, IReplicaVisitor
    {
        if (job.Blocks is not { } blocks || PrefixHolders.Of(blocks.Root) is not { } holders)
        {
            return;
        }

        var visited = 0;
        for (var i = holders.Count - 1; i >= 0 && visited < MaxPrefixHoldersVisited; i--)
        {
            var holder = holders[i];
            if (holder.Entry is not { } entry || entry.Owner != this)
            {
                // Replaced in (or removed from) this set since it stored the prompt.
                holders.RemoveAt(i);
                continue;
            }

            if (entry.Filed && entry.FreeKv >= job.KvTokens && IsOpen(entry))
            {
                visited++;
                if (!visitor.Visit(entry))
                {
                    return;
                }
            }
        }
    }

    /// <summary>True when <paramref name="replica"/> is this set's, open in this round, with a free slot and KV room for
    /// <paramref name="job"/>.</summary>
    internal bool TakesJob(ReplicaView replica, JobDemand job) =>
        replica.Entry is { } entry && entry.Owner == this && entry.Filed && entry.FreeKv >= job.KvTokens && IsOpen(entry);
}
