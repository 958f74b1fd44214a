using System.Diagnostics.CodeAnalysis;
using Scheduler.Policies.Dispatch;
using Scheduler.Policies.Profiles;

namespace Scheduler.Policies.Placement;

/// <summary>
/// One model's replicas by id, in registration order (replacing a replica keeps its place), indexed so an admission
/// round does not scan them all: by free KV tokens (does a job fit anywhere) and, per class of alike replicas, by
/// running sequences and pending prefill (see <see cref="ReplicaClass"/>). A view refiles itself on every change.
/// The set also holds the current admission round's rules: which replicas may take jobs in it (batching), and the
/// fair queue's weights, which rank each job in its replica's prefill order (<see cref="PrefillAhead"/>).
/// </summary>
public sealed partial class ReplicaSet
{
    private readonly Dictionary<string, ReplicaEntry> _byId = new(StringComparer.Ordinal);
    private readonly List<ReplicaEntry> _ordered = [];
    private readonly Dictionary<(AcceleratorProfile Profile, int MaxSequences, long KvCapacityTokens, PromptForms Forms, string? OwnReplica), ReplicaClass> _classByKey = [];
    private readonly List<ReplicaClass> _classes = [];
    private readonly FreeKvHeap _byFreeKv = new();
    private readonly List<ReplicaEntry> _batchesOpenedThisRound = [];
    private int _nextOrder;

    // Classes whose engines do not take every prompt form: while there are none, "does it fit anywhere" is the free-KV
    // heap's top alone.
    private int _partialClasses;
    private long _round;
    private bool _drainedOnly;
    private Func<string, double?>? _weightOf;

    public int Count => _byId.Count;

    /// <summary>How many replicas are schedulable (not cordoned, draining or lost, and connected): with replicas but none
    /// schedulable, a job waits for an operator or a node, not for capacity to free.</summary>
    public int SchedulableCount { get; private set; }

    /// <summary>The predicted first token of a <paramref name="promptTokens"/>-token prompt prefilled whole on an idle
    /// replica of the slowest kind filed here (0 when none is).</summary>
    internal double SlowestIdleTtftMs(int promptTokens)
    {
        var slowest = 0.0;
        foreach (var replicaClass in _classes)
        {
            slowest = Math.Max(slowest, ReplicaPrediction.IdleTtftMs(replicaClass.Profile, promptTokens));
        }

        return slowest;
    }

    public IEnumerable<ReplicaView> Values => _ordered.Select(e => e.View);

    /// <summary>The most KV tokens free on a schedulable replica with a free slot; <see cref="long.MinValue"/> when no
    /// replica has a free slot.</summary>
    public long MaxFreeKvTokens => _byFreeKv.MaxFreeKv;

    /// <summary>Adds a replica, or replaces the one with this id in its place. A view belongs to one set at most.</summary>
    public ReplicaView this[string replicaId]
    {
        get => _byId[replicaId].View;
        set => Set(replicaId, value);
    }

    public bool TryGetValue(string replicaId, [MaybeNullWhen(false)] out ReplicaView value)
    {
        var found = _byId.TryGetValue(replicaId, out var entry);
        value = entry?.View;
        return found;
    }

    /// <summary>Removes a replica (its node is gone for good). The view leaves the set and its indexes; a prefix holder
    /// or set-aside that still names it finds it gone at its next use. False when the set has no such replica.</summary>
    public bool Remove(string replicaId)
    {
        if (!_byId.Remove(replicaId, out var entry))
        {
            return false;
        }

        Unfile(entry);
        CountSchedulable(entry, false);
        _ordered.Remove(entry);
        _batchesOpenedThisRound.Remove(entry);
        entry.View.Entry = null;
        return true;
    }

    /// <summary>
    /// Starts an admission round. With <paramref name="joinsRunningBatches"/> false (request-level batching) only
    /// replicas whose batch is empty now take jobs in this round, and the jobs they take form their batch.
    /// <paramref name="weightOf"/> gives a tenant's weight in the fair queue (null: the queue has no shares, and every
    /// job ranks alike).
    /// </summary>
    internal void BeginRound(bool joinsRunningBatches, Func<string, double?>? weightOf = null)
    {
        _drainedOnly = !joinsRunningBatches;
        _weightOf = weightOf;
        _round++;
        _batchesOpenedThisRound.Clear();
    }

    /// <summary>False when no replica open to work has a free slot: then no job fits anywhere, whatever its size.</summary>
    internal bool HasFreeSlot => !_byFreeKv.IsEmpty;

    /// <summary>True when some replica open in this round has a free slot and KV room for the job.</summary>
    internal bool FitsSomewhere(JobDemand job)
    {
        if (!_drainedOnly && (_partialClasses == 0 || _byFreeKv.MaxFreeKv < job.KvTokens))
        {
            return _byFreeKv.MaxFreeKv >= job.KvTokens;
        }

        var probe = new AnyReplica();
        VisitRepresentatives(job, ref probe);
        return probe.Found;
    }

    /// <summary>Fills <paramref name="candidates"/> with every replica open in this round that has a free slot and
    /// KV room for the job, in registration order: what a placement policy without an index chooses from.</summary>
    internal void CollectCandidates(JobDemand job, List<ReplicaView> candidates)
    {
        candidates.Clear();
        foreach (var entry in _ordered)
        {
            if (Takes(entry, job))
            {
                candidates.Add(entry.View);
            }
        }
    }

    /// <summary>
    /// Visits, among the replicas open in this round with a free slot and KV room for <paramref name="job"/>, whose
    /// engines take its prompt's form, one per class and running count: the one with the least pending prefill, then the earliest registered
    /// (<see cref="ReplicaClass"/> says why no other in its bucket can rank before it on speed or cost); and, when the
    /// round ranks jobs, every one whose pending prompts the ranks reorder (<see cref="ReplicaClass.VisitRanked"/>).
    /// </summary>
    internal void VisitRepresentatives<TVisitor>(JobDemand job, ref TVisitor visitor)
        where TVisitor : struct, IReplicaVisitor
    {
        var kvTokens = job.KvTokens;
        foreach (var replicaClass in _classes)
        {
            if ((replicaClass.AcceptedForms & job.Form) == 0)
            {
                continue;
            }

            // Request-level: of the running batches, only those opened in this round take more (visited below).
            var lastRunning = _drainedOnly ? 0 : replicaClass.MaxSequences - 1;
            // With fair ranks, a replica whose pending prompts they reorder may have less prefill ahead of a job than
            // its bucket order says, so each of those is visited too.
            var ranked = _weightOf is not null && replicaClass.ReorderedCount > 0;
            for (var running = replicaClass.NextRunning(0); running >= 0 && running <= lastRunning; running = replicaClass.NextRunning(running + 1))
            {
                if (visitor.SkipsFrom(replicaClass, running))
                {
                    break;
                }

                if (ranked)
                {
                    if (!replicaClass.VisitRanked(running, kvTokens, ref visitor))
                    {
                        return;
                    }
                }
                else if (replicaClass.FirstWithRoom(running, kvTokens) is { } entry && !visitor.Visit(entry))
                {
                    return;
                }
            }
        }

        if (_drainedOnly)
        {
            foreach (var entry in _batchesOpenedThisRound)
            {
                if (entry.Filed && entry.FreeKv >= kvTokens && !visitor.Visit(entry))
                {
                    return;
                }
            }
        }
    }

    /// <summary>
    /// Prompt tokens pending on <paramref name="replica"/> that its engine would prefill before the job's, were the
    /// job admitted there in this round: those admitted at a fair rank up to the job's own there (<see cref="FairRank"/>),
    /// or all of them when the round's queue has no shares. What a prediction of the job's first token waits behind.
    /// </summary>
    internal long PrefillAhead(JobDemand job, ReplicaView replica) =>
        _weightOf?.Invoke(job.TenantId) is { } weight
            ? replica.PendingPrefillUpTo(FairRank.StartOf(job, replica, weight))
            : replica.PendingPrefillTokens;

    /// <summary>Files the entry anew from its view's current state; the view calls this after every change.</summary>
    internal void Refile(ReplicaEntry entry)
    {
        var view = entry.View;
        CountSchedulable(entry, view.Schedulable);
        var filed = view.Schedulable && view.FreeSlots > 0 && view.SetAsideFor is null;
        if (filed == entry.Filed && view.RunningSequences == entry.Running && view.PendingPrefillTokens == entry.PendingPrefill
            && view.AdmissibleKvTokens == entry.FreeKv && view.PrefillReordered == entry.Reordered)
        {
            return;
        }

        if (_drainedOnly && entry.Running == 0 && view.RunningSequences > 0)
        {
            // An empty replica took a job in a request-level round: it stays open for the rest of the round.
            entry.BatchOpenedInRound = _round;
            _batchesOpenedThisRound.Add(entry);
        }

        var wasFiled = entry.Filed;
        if (wasFiled)
        {
            entry.Class.Remove(entry);
        }

        entry.Running = view.RunningSequences;
        entry.PendingPrefill = view.PendingPrefillTokens;
        entry.FreeKv = view.AdmissibleKvTokens;
        entry.Reordered = view.PrefillReordered;
        entry.Filed = filed;
        if (filed)
        {
            entry.Class.Add(entry);
            if (wasFiled)
            {
                _byFreeKv.Update(entry);
            }
            else
            {
                _byFreeKv.Add(entry);
            }
        }
        else if (wasFiled)
        {
            _byFreeKv.Remove(entry);
        }
    }

    private void Set(string replicaId, ReplicaView view)
    {
        ArgumentNullException.ThrowIfNull(view);
        if (view.Entry is { } owned)
        {
            if (owned.Owner == this && owned.ReplicaId == replicaId)
            {
                return;
            }

            throw new InvalidOperationException($"Replica view {view.ReplicaId} already belongs to a replica set.");
        }

        if (_byId.TryGetValue(replicaId, out var entry))
        {
            Unfile(entry);
            CountSchedulable(entry, false);
            entry.View.Entry = null;
            entry.View = view;
            entry.Class = ClassOf(view);
        }
        else
        {
            entry = new ReplicaEntry(this, replicaId, _nextOrder++, view, ClassOf(view));
            _byId.Add(replicaId, entry);
            _ordered.Add(entry);
        }

        // Filed from scratch: a fresh or replacing view owes nothing to the keys of the one before.
        entry.Running = -1;
        view.Entry = entry;
        Refile(entry);
    }

    private void CountSchedulable(ReplicaEntry entry, bool schedulable)
    {
        if (entry.Schedulable != schedulable)
        {
            entry.Schedulable = schedulable;
            SchedulableCount += schedulable ? 1 : -1;
        }
    }

    private bool IsOpen(ReplicaEntry entry) => !_drainedOnly || entry.Running == 0 || entry.BatchOpenedInRound == _round;

    // Open in this round, with a free slot, KV room and an engine that takes the job's prompt.
    private bool Takes(ReplicaEntry entry, JobDemand job) => entry.Filed && entry.FreeKv >= job.KvTokens && IsOpen(entry) && entry.View.Takes(job.Form);

    private void Unfile(ReplicaEntry entry)
    {
        if (entry.Filed)
        {
            entry.Class.Remove(entry);
            _byFreeKv.Remove(entry);
            entry.Filed = false;
        }
    }

    private ReplicaClass ClassOf(ReplicaView view)
    {
        // A rate-limited replica predicts by its own recent admissions too, so it is a class of its own.
        var key = (view.Profile, view.MaxSequences, view.KvCapacityTokens, view.AcceptedForms, view.RateLimited ? view.ReplicaId : null);
        if (!_classByKey.TryGetValue(key, out var replicaClass))
        {
            replicaClass = new ReplicaClass(view.Profile, view.MaxSequences, view.KvCapacityTokens, view.AcceptedForms);
            _partialClasses += view.AcceptedForms == PromptForms.All ? 0 : 1;
            _classByKey.Add(key, replicaClass);
            _classes.Add(replicaClass);
        }

        return replicaClass;
    }

    private struct AnyReplica : IReplicaVisitor
    {
        public bool Found { get; private set; }

        public bool Visit(ReplicaEntry entry)
        {
            Found = true;
            return false;
        }

        public readonly bool SkipsFrom(ReplicaClass replicaClass, int running) => false;
    }
}
