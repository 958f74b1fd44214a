using Scheduler.Policies.Batching;
using Scheduler.Policies.Fairness;
using Scheduler.Policies.Placement;

namespace Scheduler.Policies.Dispatch;

/// <summary>
/// Continuous batching and dispatch for one model, as plain code: the placement grain and the simulator run this
/// same class. An admission round takes queued jobs in fair order and admits each into the replica the placement
/// policy picks among those with a free slot and KV room, until no queued job fits anywhere — never past either —
/// or the policy holds the job it is offered. Each admission carries the job's <see cref="FairRank"/> on its replica.
/// A job of a session whose last job's replica takes it and meets its objective goes there first, and waits a while
/// for it when it is full (<see cref="SessionAffinity"/>, <see cref="HolderWaits"/>). A job of a higher class that fits
/// nowhere has a replica set aside for it rather than be overtaken for ever by lower classes (<see cref="SetAside"/>), and
/// so has one of the same class once it has waited <see cref="SetAsideWithinClassAfter"/> (aging).
/// </summary>
public sealed class Dispatcher
{
    private readonly List<ReplicaView> _candidates = [];
    private readonly Func<JobDemand, bool> _placeable;
    private readonly IIndexedPlacementPolicy? _indexedPlacement;
    private readonly Func<string, double?> _weightOf;
    private readonly SessionAffinity _sessions = new();
    private readonly HashSet<string> _admittedThisRound = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HolderWait> _holderWaits = new(StringComparer.Ordinal);
    private DateTimeOffset _roundStart;
    private readonly Func<JobDemand, bool> _makesRoom;
    private readonly Func<string, int> _queuedOf;
    private (ReplicaView Replica, JobDemand Victim)? _victim;
    private int _victimSearches;
    private (ReplicaView Replica, JobDemand Job)? _setAside;

    public Dispatcher(IFairQueue queue, IPlacementPolicy placement, IBatchingPolicy batching)
    {
        Queue = queue;
        Placement = placement;
        Batching = batching;
        _placeable = Placeable;
        _indexedPlacement = placement as IIndexedPlacementPolicy;
        _weightOf = queue.WeightOf;
        _makesRoom = MakesRoom;
        _queuedOf = queue.CountOf;
    }

    public IFairQueue Queue { get; }

    public IPlacementPolicy Placement { get; }

    public IBatchingPolicy Batching { get; }

    /// <summary>The model's replicas by id; the owner adds, replaces and updates them (the set keeps its index current).</summary>
    public ReplicaSet Replicas { get; } = new();

    /// <summary>The replica set aside for the job the queue serves next, which had room nowhere while a job of a lower
    /// class was about to be admitted (<see cref="ReplicaView.SetAsideFor"/>); null when none is.</summary>
    public (ReplicaView Replica, JobDemand Job)? SetAside => _setAside;

    /// <summary>How long the job the queue serves next may wait for room while smaller jobs of its own class take the room
    /// it cannot use before a replica is set aside for it, as for a job of a higher class (<see cref="SetAside"/>). Within
    /// a class the queue is work-conserving: a job too large for the room free lets smaller ones use it rather than leave
    /// it idle. Left at that, a large prompt amid steady traffic of small ones waits for as long as the traffic flows (the
    /// room a sequence frees is taken at once); this bounds its wait by roughly this plus one replica's drain.
    /// <see cref="TimeSpan.Zero"/> keeps the class purely work-conserving.</summary>
    public TimeSpan SetAsideWithinClassAfter { get; init; } = DefaultSetAsideWithinClassAfter;

    /// <summary>The placement's default <see cref="SetAsideWithinClassAfter"/>: long past any interactive TTFT objective,
    /// so a replica drains for a job of its own class only once work conservation has plainly failed it.</summary>
    public static readonly TimeSpan DefaultSetAsideWithinClassAfter = TimeSpan.FromMilliseconds(DefaultSetAsideWithinClassAfterMs);

    /// <summary><see cref="DefaultSetAsideWithinClassAfter"/> in milliseconds.</summary>
    public const int DefaultSetAsideWithinClassAfterMs = 10_000;

    /// <summary>Why the last round left jobs queued: what an explanation of a waiting job is derived from.</summary>
    public RoundStop LastStop { get; private set; }

    /// <summary>When the last round stopped because the policy held a job (<see cref="RoundStopReason.PolicyHeld"/>),
    /// that job.</summary>
    public JobDemand? LastHeld { get; private set; }

    /// <summary>Whether each admission carries the replicas its policy weighed (<see cref="Admission.Weighed"/>), for
    /// explaining a job's placement. The cost-aware policy reports the one replica per class and running count it
    /// predicts for anyway; a policy without an index path reports only the replica it chose.</summary>
    public bool RecordsWeighedReplicas { get; init; }

    /// <summary>How often one job may be stopped to make room for another (<see cref="Preemption"/>); 0 (the default)
    /// stops none. Only under a queue with shares and continuous batching.</summary>
    public int MaxPreemptions { get; init; }

    /// <summary>How many consecutive steps the decode of a job admitted while its tenant is backlogged in the fair queue
    /// (over its share) may wait while an under-share job's prompt is prefilled on its replica
    /// (<see cref="Admission.DecodeDeferrals"/>, <c>Profiles.StepPlan.ForBatch</c>); 0 (the default) never. Only under a
    /// queue with shares.</summary>
    public int MaxDecodeDeferrals { get; init; }

    /// <summary>The contended prefill cap of a job admitted while its tenant is backlogged in the fair queue (over its
    /// share): at most this many of its replica's prompt tokens a step, together with the other capped jobs there, while
    /// an uncapped job's prompt is pending there or was, or an uncapped job ended there, recently (<see cref="Admission.ContendedPrefillTokens"/>,
    /// <c>Profiles.StepPlan.TakePrefill</c>); 0 never caps. Only under a queue with shares.</summary>
    public int ContendedPrefillTokens { get; init; }

    /// <summary>The placement's default <see cref="ContendedPrefillTokens"/>: off. Measured at 256 (a quarter of an L4's
    /// step budget: a flood's step while a light prompt may come lasts about 53 ms instead of 119 ms on an L4 at twice
    /// its speed), it shortened the live flood test's light first tokens after the first, but cost the simulator's flood
    /// scenario throughput that its open-loop light tenant paid for in waiting (docs/benchmarks.md, "Contended prefill
    /// cap").</summary>
    public const int DefaultContendedPrefillTokens = 0;

    /// <summary>The placement's default for how long a replica stays contended after an uncapped job's prompt was last
    /// pending there or an uncapped job ended there, in
    /// milliseconds: a light tenant that sends its next job within a second of its last one finding its replica still
    /// contended.</summary>
    public const int DefaultContendedPrefillWindowMs = 1_000;

    /// <summary>Most sequences one round stops, so a round's cost stays bounded however many jobs wait.</summary>
    public const int MaxPreemptionsPerRound = 8;

    /// <summary>Most jobs one round searches a victim for (each search looks at every running sequence). Many tenants
    /// waiting with one job each all start level with the lowest counter, so every one of them is next in line; searching
    /// for each cost a round tenants × running sequences — at every submission.</summary>
    public const int MaxVictimSearchesPerRound = 32;

    /// <summary>The running jobs the last round stopped to make room (<see cref="Preemption"/>), each before the
    /// admission it made room for: the owner tells their engines to stop them and queues them again when handed back.
    /// Their reservations are already released.</summary>
    public IReadOnlyList<Preempted> Preemptions { get; private set; } = [];

    /// <summary>The clock a session's wait for its replica is measured on (<see cref="HolderWaits"/>).</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>The jobs the last round passed over because they wait for their session's replica, which had no room
    /// for them (<see cref="SessionAffinity.WaitFor"/>), each with the replica and when its wait ends: the owner
    /// explains the wait and runs a round by then.</summary>
    public IReadOnlyCollection<HolderWait> HolderWaits => _holderWaits.Values;

    /// <summary>Creates a dispatcher from policy names, as configuration gives them.</summary>
    public static Dispatcher Create(string placement, string fairness, string batching, Random? random = null, bool recordWeighedReplicas = false, int maxPreemptions = 0, int maxDecodeDeferrals = 0, int contendedPrefillTokens = 0, TimeProvider? time = null, PlacementSettings? placementSettings = null, TimeSpan? setAsideWithinClassAfter = null) => new(
        SchedulingPolicies.CreateFairQueue(fairness), SchedulingPolicies.CreatePlacement(placement, random, placementSettings), SchedulingPolicies.CreateBatching(batching))
    {
        RecordsWeighedReplicas = recordWeighedReplicas,
        MaxPreemptions = maxPreemptions,
        MaxDecodeDeferrals = maxDecodeDeferrals,
        ContendedPrefillTokens = contendedPrefillTokens,
        Time = time ?? TimeProvider.System,
        SetAsideWithinClassAfter = setAsideWithinClassAfter ?? DefaultSetAsideWithinClassAfter,
    };

    /// <summary>One admission round. Returns the admissions in the order they were made (empty when nothing fits);
    /// the replicas' reservations are already taken.</summary>
    public IReadOnlyList<Admission> AdmitWhatFits()
    {
        LastHeld = null;
        Preemptions = [];
        _holderWaits.Clear();
        if (Queue.Count == 0 || Replicas.Count == 0)
        {
            LastStop = new RoundStop(Queue.Count == 0 ? RoundStopReason.QueueEmpty : RoundStopReason.NoReplicas, 0);
            return [];
        }

        Replicas.BeginRound(Batching.JoinsRunningBatches, _weightOf);
        ReviewSetAside();
        _roundStart = Time.GetUtcNow();
        _sessions.Expire(_roundStart);
        _admittedThisRound.Clear();
        _victimSearches = 0;
        List<Admission>? admitted = null;
        List<Preempted>? preempted = null;
        var ended = RoundStopReason.NothingFits;
        while (true)
        {
            // Without a free slot anywhere nothing is placeable, and asking it of every queued job cost a step a job; nor
            // is a job needing more KV than any replica has free.
            var job = Replicas.HasFreeSlot ? Queue.DequeueNext(_placeable, Replicas.MaxFreeKvTokens) : null;
            var placeable = job is not null;
            (ReplicaView Replica, JobDemand Victim)? stop = null;
            if (job is null)
            {
                // Nothing fits anywhere: the first job in fair order that may make room by preemption is served.
                _victim = null;
                job = MayPreempt(preempted) ? Queue.DequeueNextHead(_makesRoom) : null;
                if (job is null)
                {
                    break;
                }

                stop = _victim;
            }

            if (placeable && YieldsToSetAsideJob(job))
            {
                // The room it fit is set aside for a job of a higher class: it goes back, uncharged, and the round goes on.
                Queue.EnqueueFront(job);
                Queue.Adjust(job.TenantId, -job.ServiceUnits);
                continue;
            }

            var weighed = RecordsWeighedReplicas ? new List<WeighedReplica>() : null;
            var chosen = placeable ? Choose(job, weighed) : null;
            if (placeable && MayPreempt(preempted) && !MeetsObjective(job, chosen) && Queue.IsNextInLine(job))
            {
                stop = PickVictim(job);
            }

            if (stop is var (replica, victim))
            {
                // The victim's engine stops it before the job's admission reaches the replica (the owner sends both in
                // that order); its reservation is the job's now, and it is queued again once handed back.
                replica.Release(victim.JobId);
                (preempted ??= []).Add(new Preempted(victim, replica, job.JobId));
                chosen = replica;
                weighed?.Add(WeighedReplica.Predict(replica, job));
            }

            if (chosen is null)
            {
                // The policy holds the job (null leaves it queued), or nothing fits it: it goes back to the front of its
                // tenant's queue with its charge refunded, and the round ends, so the next capacity to free goes to it
                // in fair order.
                Queue.EnqueueFront(job);
                Queue.Adjust(job.TenantId, -job.ServiceUnits);
                if (placeable)
                {
                    ended = RoundStopReason.PolicyHeld;
                    LastHeld = job;
                }

                break;
            }

            if (_setAside?.Job.JobId == job.JobId)
            {
                ReleaseSetAside();
            }

            _sessions.Placed(job, chosen, _roundStart);
            _holderWaits.Remove(job.JobId);
            var weight = Queue.WeightOf(job.TenantId);
            var backlogged = Queue.CountOf(job.TenantId) > 0;
            var (rank, finish) = FairRank.Of(job, chosen, weight, backlogged);
            var runningBefore = chosen.Admit(job, rank, finish);
            _admittedThisRound.Add(job.JobId);
            if (job.Preemptions > 0)
            {
                // A preempted job keeps the charge of its first admission (it was served, and stopped for a tenant
                // with a better claim): resuming it is not charged again, so its tenant's counter never drops below
                // where the fair queue's order left it.
                Queue.Adjust(job.TenantId, -job.ServiceUnits);
            }

            // The tenant that pushes its next start back (more work than the fleet takes) is the one whose decode may
            // wait for the others' prefill, and whose prefill is capped while others may send.
            var overShare = weight is not null && backlogged;
            var deferrals = overShare ? Math.Max(0, MaxDecodeDeferrals) : 0;
            var prefillCap = overShare ? Math.Max(0, ContendedPrefillTokens) : 0;
            (admitted ??= []).Add(new Admission(job, chosen, runningBefore, rank, weighed, deferrals, prefillCap));
        }

        Preemptions = preempted ?? (IReadOnlyList<Preempted>)[];
        LastStop = new RoundStop(
            Queue.Count == 0 ? RoundStopReason.QueueEmpty
            : ended == RoundStopReason.NothingFits && Replicas.SchedulableCount == 0 ? RoundStopReason.NoneSchedulable
            : ended,
            Replicas.MaxFreeKvTokens);
        return admitted ?? (IReadOnlyList<Admission>)[];
    }

    // Strict priority between classes. A job that fits nowhere lets lower-class jobs take the room that is free (work
    // conservation), but taken each time a sequence ends, that room never adds up to what it needs: a large critical
    // prompt would wait behind standard traffic for as long as it flows. So when a job of a lower class is about to be
    // admitted while the job the queue serves next (of a higher class) fits nowhere, one replica that could hold it is
    // set aside for it: nothing else is admitted there, its running sequences drain, and it takes the job once it has
    // room (a replica set aside is never idle while its job waits: emptied, it has room). The other replicas go on
    // serving the lower classes. One at a time, for the job next in line; only under a queue that keeps classes and shares.
    // The same holds within a class for a job that has waited SetAsideWithinClassAfter (aging): until then its class's
    // smaller jobs may use the room it cannot.
    private bool YieldsToSetAsideJob(JobDemand job)
    {
        // The queue offers the classes in order, so the job it serves next, if of a higher class or an aged one of the
        // same, was tried first and found no room (or waits for its session's replica, which the fit test below tells apart).
        if (_setAside is not null || _weightOf(string.Empty) is null
            || Queue.PeekNext() is not { } next || !Outranks(next, job) || Replicas.FitsSomewhere(next)
            || SetAsideCandidate(next) is not { } replica)
        {
            return false;
        }

        _setAside = (replica, next);
        replica.SetAsideFor = next.JobId;
        return !Replicas.FitsSomewhere(job);
    }

    private bool Outranks(JobDemand next, JobDemand job) =>
        next.Priority < job.Priority
        || (next.Priority == job.Priority && SetAsideWithinClassAfter > TimeSpan.Zero
            && _roundStart - next.EnqueuedAt >= SetAsideWithinClassAfter);

    // The replica a job that fits nowhere waits on: one that could ever hold it, the closest to having room for it.
    private ReplicaView? SetAsideCandidate(JobDemand job)
    {
        ReplicaView? best = null;
        foreach (var replica in Replicas.Values)
        {
            if (replica.Schedulable && replica.MaxSequences > 0 && replica.CanEverHold(job)
                && (best is null || replica.FreeKvTokens > best.FreeKvTokens
                    || (replica.FreeKvTokens == best.FreeKvTokens && replica.RunningSequences < best.RunningSequences)))
            {
                best = replica;
            }
        }

        return best;
    }

    // At a round's start: a replica stays set aside while its job is still the one the queue serves next, and it is still
    // this set's, open to work, and without room for the job; else it is released (and set aside anew if still called for).
    private void ReviewSetAside()
    {
        if (_setAside is not var (replica, job))
        {
            return;
        }

        ReleaseSetAside();
        if (Queue.PeekNext()?.JobId == job.JobId && Replicas.TryGetValue(replica.ReplicaId, out var current) && current == replica
            && replica.Schedulable && replica.CanEverHold(job) && !Replicas.TakesJob(replica, job))
        {
            _setAside = (replica, job);
            replica.SetAsideFor = job.JobId;
        }
    }

    private void ReleaseSetAside()
    {
        if (_setAside is var (replica, _))
        {
            replica.SetAsideFor = null;
            _setAside = null;
        }
    }

    // What the fair queue may offer in this round: a job that fits some open replica and is not waiting for its session's.
    private bool Placeable(JobDemand job)
    {
        if (!Replicas.FitsSomewhere(job))
        {
            return false;
        }

        if (job.SessionId is null || _sessions.WaitFor(job, Replicas, _roundStart) is not { } wait)
        {
            return true;
        }

        _holderWaits[job.JobId] = wait;
        return false;
    }

    /// <summary>Whether a round may stop running sequences: preemption is on, the queue has shares to judge by (a
    /// queue without them answers no weight) and batches take jobs while they run. A round is worth running then even
    /// when no replica has a free slot.</summary>
    public bool Preempts => MaxPreemptions > 0 && Batching.JoinsRunningBatches && _weightOf(string.Empty) is not null;

    private bool MayPreempt(List<Preempted>? preempted) => Preempts && (preempted?.Count ?? 0) < MaxPreemptionsPerRound;

    private (ReplicaView Replica, JobDemand Victim)? PickVictim(JobDemand job) =>
        Preemption.PickVictim(job, Replicas, t => _weightOf(t) ?? 1, _queuedOf, MaxPreemptions, _admittedThisRound);

    // The fair queue's test of a job when nothing fits anywhere: may it make room by preemption? The victim found is
    // kept for the job the queue then serves. Only a tenant's first job of each class is asked (its first in order
    // stands for the rest: IFairQueue.DequeueNextHead), so a round costs a step per tenant, not one per queued job.
    private bool MakesRoom(JobDemand job)
    {
        if (_victimSearches == MaxVictimSearchesPerRound || !Queue.IsNextInLine(job))
        {
            return false;
        }

        _victimSearches++;

        // The queue tries a later tenant only when its counter is lower than the one accepted so far, and then serves
        // it: the last victim found is the served job's.
        if (PickVictim(job) is not { } victim)
        {
            return false;
        }

        _victim = victim;
        return true;
    }

    // Whether the chosen replica is predicted to give the job its first token in time: if so, nothing is stopped for it.
    private bool MeetsObjective(JobDemand job, ReplicaView? chosen) =>
        chosen is not null && ReplicaPrediction.TtftMs(chosen.Profile, chosen.RunningSequences, Replicas.PrefillAhead(job, chosen), job.PromptTokens - chosen.CachedPromptTokens(job)) <= job.TtftObjectiveMs;

    // The queue offers only a job that fits somewhere, so there is a candidate; null means the policy holds the job.
    // A policy with an index path looks at a few replicas; the others get the full candidate list.
    private ReplicaView? Choose(JobDemand job, List<WeighedReplica>? weighed)
    {
        // A session's jobs stay where its last one ran while that replica meets their objective, whatever the policy.
        if (_sessions.Preferred(job, Replicas) is { } affine)
        {
            weighed?.Add(WeighedReplica.Predict(affine, job));
            return affine;
        }

        if (_indexedPlacement is not null)
        {
            return _indexedPlacement.Choose(job, Replicas, weighed);
        }

        Replicas.CollectCandidates(job, _candidates);
        var chosen = Placement.Choose(job, _candidates);
        if (chosen is not null && weighed is not null)
        {
            // Predicting for every candidate would cost a scan of the fleet per admission: the chosen one is reported.
            weighed.Add(WeighedReplica.Predict(chosen, job));
        }

        return chosen;
    }
}

/// <summary>A queued job passed over because it waits for <paramref name="ReplicaId"/>, which holds its session's context
/// and had no room for it, until <paramref name="Until"/>.</summary>
public readonly record struct HolderWait(JobDemand Job, string ReplicaId, DateTimeOffset Until);

/// <summary>A job admitted into a replica's running batch, with the number of sequences it joined, its fair rank
/// there (<see cref="FairRank"/>), which the engine prefills in, when the dispatcher records them, the replicas
/// its policy weighed, how many consecutive steps its decode may wait for an under-share prompt's prefill
/// (<see cref="Dispatcher.MaxDecodeDeferrals"/> when its tenant was backlogged, else 0), and its contended prefill cap
/// (<see cref="Dispatcher.ContendedPrefillTokens"/> when its tenant was backlogged, else 0: uncapped).</summary>
public readonly record struct Admission(
    JobDemand Job, ReplicaView Replica, int RunningSequencesBefore, double FairRank, IReadOnlyList<WeighedReplica>? Weighed = null, int DecodeDeferrals = 0, int ContendedPrefillTokens = 0);
