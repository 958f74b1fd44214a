using System.Numerics;
using System.Runtime.InteropServices;
using Scheduler.Policies.Profiles;

namespace Scheduler.Policies.Placement;

/// <summary>
/// Filed replicas that predict alike (same accelerator profile, slots and KV capacity: a session's job is charged by how
/// packed its batch would leave the replica, <see cref="ReplicaPrediction.SessionLossCostUsd"/>) in buckets by running
/// sequences, each bucket ordered by pending prefill tokens, then registration order. With equal profile and running
/// count, the predicted first token and the predicted cost only grow with pending prefill, so in each bucket the
/// first replica with KV room for a job is at least as fast and as cheap as every other one there: a policy ranking by
/// those looks at one replica per bucket instead of all of them. Replicas without a free slot are not filed.
/// </summary>
internal sealed class ReplicaClass
{
    private readonly List<ReplicaEntry>?[] _byRunning;

    // Bit r set: bucket r holds at least one replica, so a search skips empty running counts a word at a time.
    private readonly ulong[] _occupied;

    public ReplicaClass(AcceleratorProfile profile, int maxSequences, long kvCapacityTokens, PromptForms acceptedForms = PromptForms.All)
    {
        Profile = profile;
        MaxSequences = maxSequences;
        KvCapacityTokens = kvCapacityTokens;
        AcceptedForms = acceptedForms;
        _byRunning = new List<ReplicaEntry>?[Math.Max(0, maxSequences)];
        _occupied = new ulong[(_byRunning.Length + 63) / 64];
    }

    public AcceleratorProfile Profile { get; }

    public int MaxSequences { get; }

    public long KvCapacityTokens { get; }

    /// <summary>The prompt forms its replicas' engines take (<see cref="ReplicaView.AcceptedForms"/>): alike in a class,
    /// so a job none of them can run skips the class.</summary>
    public PromptForms AcceptedForms { get; }

    /// <summary>Filed replicas whose pending prompts fair ranks reorder (<see cref="ReplicaEntry.Reordered"/>).</summary>
    public int ReorderedCount { get; private set; }

    /// <summary>Files an entry under its <see cref="ReplicaEntry.Running"/> and <see cref="ReplicaEntry.PendingPrefill"/>.</summary>
    public void Add(ReplicaEntry entry)
    {
        var bucket = _byRunning[entry.Running] ??= [];
        bucket.Insert(~Find(bucket, entry), entry);
        _occupied[entry.Running >> 6] |= 1UL << entry.Running;
        ReorderedCount += entry.Reordered ? 1 : 0;
    }

    /// <summary>Unfiles an entry from where <see cref="Add"/> put it (its keys must not have changed since).</summary>
    public void Remove(ReplicaEntry entry)
    {
        var bucket = _byRunning[entry.Running]!;
        bucket.RemoveAt(Find(bucket, entry));
        ReorderedCount -= entry.Reordered ? 1 : 0;
        if (bucket.Count == 0)
        {
            _occupied[entry.Running >> 6] &= ~(1UL << entry.Running);
        }
    }

    /// <summary>The lowest running count, at least <paramref name="from"/>, with a filed replica; -1 when none.</summary>
    public int NextRunning(int from)
    {
        for (var word = from >> 6; word < _occupied.Length; word++)
        {
            var bits = _occupied[word];
            if (word == from >> 6)
            {
                bits &= ~0UL << (from & 63);
            }

            if (bits != 0)
            {
                return (word << 6) + BitOperations.TrailingZeroCount(bits);
            }
        }

        return -1;
    }

    /// <summary>The first replica running <paramref name="running"/> sequences with <paramref name="kvTokens"/> KV
    /// tokens free: the least pending prefill, then the earliest registered. Null when none has room.</summary>
    public ReplicaEntry? FirstWithRoom(int running, long kvTokens)
    {
        foreach (var entry in CollectionsMarshal.AsSpan(_byRunning[running]))
        {
            if (entry.FreeKv >= kvTokens)
            {
                return entry;
            }
        }

        return null;
    }

    /// <summary>
    /// Visits the replicas running <paramref name="running"/> sequences with <paramref name="kvTokens"/> KV tokens free
    /// that a prediction from the prefill ahead of a job (<see cref="ReplicaSet.PrefillAhead"/>) may rank first: every
    /// reordered one, and the first of the others, for which the prefill ahead of any job is all their pending prefill,
    /// so that bucket order is prediction order. False when the visitor stopped.
    /// </summary>
    public bool VisitRanked<TVisitor>(int running, long kvTokens, ref TVisitor visitor)
        where TVisitor : struct, IReplicaVisitor
    {
        var visitedInOrder = false;
        foreach (var entry in CollectionsMarshal.AsSpan(_byRunning[running]))
        {
            if (entry.FreeKv < kvTokens || (visitedInOrder && !entry.Reordered))
            {
                continue;
            }

            visitedInOrder |= !entry.Reordered;
            if (!visitor.Visit(entry))
            {
                return false;
            }
        }

        return true;
    }

    // Binary search by (pending prefill, order); the order is unique, so a filed entry is found exactly.
    private static int Find(List<ReplicaEntry> bucket, ReplicaEntry entry)
    {
        var low = 0;
        var high = bucket.Count - 1;
        while (low <= high)
        {
            var middle = low + ((high - low) >> 1);
            var other = bucket[middle];
            var comparison = other.PendingPrefill != entry.PendingPrefill
                ? other.PendingPrefill.CompareTo(entry.PendingPrefill)
                : other.Order.CompareTo(entry.Order);
            if (comparison == 0)
            {
                return middle;
            }

            if (comparison < 0)
            {
                low = middle + 1;
            }
            else
            {
                high = middle - 1;
            }
        }

        return ~low;
    }
}
