using Scheduler.Policies.Profiles;

namespace Scheduler.Policies.Placement;

/// <summary>
/// Picks the cheapest replica predicted to meet the job's TTFT objective; when none can, the one with the
/// earliest predicted first token, because a late answer is worth less than a dear one — unless that one is
/// saturated with prefill, when the job is held in the queue (null). Ties on cost go to the earlier first token; any
/// remaining tie to the shorter prefill backlog, then to the earlier registered (listed) replica.
/// The cost compared includes the job's wait for its first token, priced at <see cref="WaitCostUsdPerSecond"/>: the batch
/// share alone prices a job at a packed replica's cheap share of its accelerator however long it waits there, so without
/// it the policy sent work to full replicas while idle faster ones stood by, spending the whole objective's slack on
/// queueing (docs/benchmarks.md, "The wait priced").
/// Predictions count only the prompt tokens not expected in the replica's prefix cache
/// (<see cref="ReplicaView.CachedPromptTokens"/>), and a replica's cost also carries the recompute of the cached prefix
/// it would not reuse (<see cref="ReplicaPrediction.RecomputeCostUsd"/>: the most prompt tokens any candidate holds,
/// less its own, at its whole accelerator's price): the batch-share cost model alone prices a 2,500-token prefill on an
/// L4 below three more sequences in its batch, so the fullest replica won over the holder. A holder wins while it is
/// the cheaper way to meet the objective and stops winning once its load makes it miss: cache affinity, cost and load
/// are one decision. A job of a session is also charged the expected loss of its context where its batch would leave the
/// replica packed (<see cref="ReplicaPrediction.SessionLossCostUsd"/>), so a conversation starts where its next turn
/// will find it; a job without a session is placed as if the term did not exist. With
/// <see cref="SessionWaitCostUsdPerSecond"/> set, a session's job's wait is priced at that, and its next turn's predicted
/// wait on each replica is added at that too (a conversation started on a fast replica has its later turns fast there),
/// but only among the replicas where that price costs the fleet nothing it needs: no prefill pending ahead of the job,
/// as much of its prompt cached as on any candidate, and room in the KV cache for the contexts of the sessions recently
/// placed there with the job's (<see cref="ReplicaView.LiveSessionTokens"/>), so a new conversation does not take a fast
/// replica's cache from the conversations coming back to it. Where no such replica meets the objective (a loaded fleet),
/// the job is placed as any other.
/// From a <see cref="ReplicaSet"/> it predicts only for one replica per class and running count, which finds the
/// same replica as predicting for all when nothing is cached (see <see cref="ReplicaClass"/>) and, since every other
/// replica of a class bears the same recompute, when something is, plus the replicas the set lists as holding the
/// job's first block. A job's first token is predicted from the prefill ranked ahead of it there
/// (<see cref="ReplicaSet.PrefillAhead"/>), which is all the prefill pending unless the round's queue has shares and the
/// replica holds a backlogged tenant's prompts ranked back, plus, on a rate-limited replica, the wait its limits would
/// impose (<see cref="ReplicaView.RateLimitWaitMs"/>).
/// </summary>
/// <param name="settings">What configuration sets: the price of a second of waiting.</param>
internal sealed class CostAwarePlacement(PlacementSettings settings) : IIndexedPlacementPolicy
{
    public const string PolicyName = "cost-aware";

    public CostAwarePlacement()
        : this(PlacementSettings.Default)
    {
    }

    /// <summary>What a second of a job's wait for its first token costs, added to each replica's predicted cost
    /// (<see cref="PlacementSettings.WaitCostUsdPerSecond"/>).</summary>
    public double WaitCostUsdPerSecond { get; } = settings.WaitCostUsdPerSecond;

    /// <summary>What a second of a session's turn's wait costs, its own and its next turn's
    /// (<see cref="PlacementSettings.SessionWaitCostUsdPerSecond"/>); 0 prices sessions as other jobs.</summary>
    public double SessionWaitCostUsdPerSecond { get; } = settings.SessionWaitCostUsdPerSecond;

    public string Name => PolicyName;

    public bool PlacesBySession => true;

    public ReplicaView? Choose(JobDemand job, IReadOnlyList<ReplicaView> candidates)
    {
        var held = 0;
        for (var i = 0; i < candidates.Count; i++)
        {
            held = Math.Max(held, candidates[i].CachedPromptTokens(job));
        }

        var choice = new Choice(job, held, WaitCostUsdPerSecond, SessionWaitCostUsdPerSecond);
        for (var i = 0; i < candidates.Count; i++)
        {
            var replica = candidates[i];
            var ahead = replica.Entry is { } entry ? entry.Owner.PrefillAhead(job, replica) : replica.PendingPrefillTokens;
            choice.Offer(replica, replica.Profile, replica.RunningSequences, ahead, i, replica.CachedPromptTokens(job));
        }

        return choice.Result;
    }

    public ReplicaView? Choose(JobDemand job, ReplicaSet replicas, List<WeighedReplica>? weighed = null)
    {
        // Only a listed holder can hold more than nothing, so the most any candidate holds is among them.
        var holders = replicas.PrefixHoldersOf(job);
        var held = 0;
        foreach (var holder in holders)
        {
            held = Math.Max(held, holder.CachedTokens);
        }

        // A representative that holds any of the prefix is among the holders, and offered as one below with what it
        // holds, which beats its offer as a representative; so unless the holders collected may be cut short (or every
        // prediction is to be explained), representatives are offered as holding nothing, sparing a look into each one's
        // index per decision.
        var choice = new Choice(job, held, WaitCostUsdPerSecond, SessionWaitCostUsdPerSecond)
        {
            Weighed = weighed,
            RepresentativesMayHold = weighed is not null || holders.Length == ReplicaSet.MaxPrefixHoldersVisited,
        };
        replicas.VisitRepresentatives(job, ref choice);

        // A representative stands for its class as if nothing were cached; the replicas that may hold the job's
        // prefix are offered as themselves.
        foreach (var holder in holders)
        {
            var entry = holder.Entry;
            choice.Offer(entry.View, entry.Class.Profile, entry.Running, replicas.PrefillAhead(job, entry.View), entry.Order, holder.CachedTokens);
        }

        return choice.Result;
    }

    /// <summary>The best offer so far: the cheapest that meets the objective, and the fastest.</summary>
    /// <param name="job">The job to place.</param>
    /// <param name="held">The most prompt tokens any candidate holds cached: what a replica holding fewer prefills again.</param>
    /// <param name="waitCostUsdPerSecond">The price of a second of the job's wait for its first token.</param>
    /// <param name="sessionWaitCostUsdPerSecond">The price of a second of a session's turn's wait; 0: not priced apart.</param>
    private struct Choice(JobDemand job, int held, double waitCostUsdPerSecond, double sessionWaitCostUsdPerSecond) : IReplicaVisitor
    {
        // A session's turns are priced apart only when the setting asks.
        private readonly double _sessionWaitCost = job.SessionId is null ? 0 : sessionWaitCostUsdPerSecond;

        private ReplicaView? _cheapest;
        private double _cheapestCost = double.MaxValue;
        private Rank _cheapestRank;
        private ReplicaView? _sessionCheapest;
        private double _sessionCheapestCost = double.MaxValue;
        private Rank _sessionCheapestRank;
        private ReplicaView? _fastest;
        private Rank _fastestRank = new(double.MaxValue, 0, 0);
        private int _fastestStepBudget;

        /// <summary>When set, every prediction made is added here (explaining a placement).</summary>
        public List<WeighedReplica>? Weighed { get; init; }

        /// <summary>False when every representative holding any of the job's prefix is also offered as a holder: then
        /// representatives are predicted as holding nothing, without looking into their indexes.</summary>
        public bool RepresentativesMayHold { get; init; } = true;

        // None meets the objective. If even the fastest already has a full step of prefill waiting, the fleet is
        // saturated: hold the job in the fair queue rather than stack it behind that prefill. It would miss its
        // objective either way, but in the queue it keeps its fair place, and jobs admitted meanwhile are not
        // delayed by it; it goes as soon as a prefill completes somewhere.
        // With the session price set, a session's job goes to the cheapest replica by that price among those where the
        // price costs the fleet nothing (SessionFree), and where none is, it is placed as any other job.
        public readonly ReplicaView? Result =>
            _sessionCheapest ?? _cheapest ?? (_fastest is not null && _fastestRank.PendingPrefill >= _fastestStepBudget ? null : _fastest);

        // Predicts from what the index filed (equal to the view's numbers) and the prefill that would be ahead of the
        // job there: with fair ranks in the batch, a light tenant's job waits only behind prefill ranked up to its own.
        public bool Visit(ReplicaEntry entry)
        {
            var cached = RepresentativesMayHold ? entry.View.CachedPromptTokens(job) : 0;
            Offer(entry.View, entry.Class.Profile, entry.Running, entry.Owner.PrefillAhead(job, entry.View), entry.Order, cached);
            return true;
        }

        // A session's job is charged the loss of its context there (SessionLossCostUsd), which only grows with the running
        // count, and every other part of a cost is positive: once that charge alone is dearer than a replica found to
        // meet the objective, no busier replica of the class can win, and none is predicted for. (Without it, a fleet
        // kept unpacked for sessions had the index predict for about a hundred representatives per choice.)
        public readonly bool SkipsFrom(ReplicaClass replicaClass, int running) =>
            job.SessionId is not null && _cheapest is not null && (_sessionWaitCost == 0 || _sessionCheapest is not null)
            && ReplicaPrediction.SessionLossCostUsd(replicaClass.Profile, replicaClass.MaxSequences, replicaClass.KvCapacityTokens, running, job)
                > Math.Max(_cheapestCost, _sessionWaitCost == 0 ? 0 : _sessionCheapestCost);

        public void Offer(ReplicaView replica, AcceleratorProfile profile, int running, long pendingPrefill, int order, int cachedTokens)
        {
            // Only the tokens not cached there are prefilled, and paid for: affinity and cost are one decision.
            var prefill = job.PromptTokens - cachedTokens;
            // A rate-limited replica (a metered endpoint) sends the job only once its limits allow: that wait is part of
            // its first token, or the cheap endpoint would take more than its limits let it serve in time.
            var ttft = ReplicaPrediction.TtftMs(profile, running, pendingPrefill, prefill) + replica.RateLimitWaitMs(job);
            var rank = new Rank(ttft, pendingPrefill, order);

            // Strictly better only: a prediction no better than double.MaxValue (∞, NaN) never wins, as before ties.
            if (rank.TtftMs < _fastestRank.TtftMs || (_fastest is not null && rank.TtftMs == _fastestRank.TtftMs && rank.TieBefore(_fastestRank)))
            {
                _fastest = replica;
                _fastestRank = rank;
                _fastestStepBudget = profile.StepTokenBudget;
            }

            var meets = rank.TtftMs <= job.TtftObjectiveMs;
            var cost = meets || Weighed is not null
                ? ReplicaPrediction.CostUsd(profile, running, prefill, job.MaxTokens, rank.TtftMs) + ReplicaPrediction.RecomputeCostUsd(profile, held - cachedTokens)
                : 0;
            var loss = job.SessionId is null ? 0 : ReplicaPrediction.SessionLossCostUsd(profile, replica.MaxSequences, replica.KvCapacityTokens, running, job);
            var plain = cost + (waitCostUsdPerSecond * rank.TtftMs / 1000.0) + loss;
            if (meets && Better(plain, rank, _cheapest, _cheapestCost, _cheapestRank))
            {
                _cheapest = replica;
                _cheapestCost = plain;
                _cheapestRank = rank;
            }

            if (_sessionWaitCost == 0)
            {
                Weighed?.Add(new WeighedReplica(replica, running, rank.TtftMs, plain, meets));
                return;
            }

            // Priced apart, a session's job also pays its next turn's wait there, which stays where its context is.
            var free = meets && SessionFree(replica, pendingPrefill, cachedTokens);
            var priced = cost + (Math.Max(waitCostUsdPerSecond, _sessionWaitCost) * rank.TtftMs / 1000.0) + loss
                + (_sessionWaitCost * ReplicaPrediction.NextTurnTtftMs(profile, running, job) / 1000.0);
            Weighed?.Add(new WeighedReplica(replica, running, rank.TtftMs, free ? priced : plain, meets));
            if (free && Better(priced, rank, _sessionCheapest, _sessionCheapestCost, _sessionCheapestRank))
            {
                _sessionCheapest = replica;
                _sessionCheapestCost = priced;
                _sessionCheapestRank = rank;
            }
        }

        // Where a session's price may place its job, because there it costs the fleet nothing it needs: the replica has no
        // prefill pending ahead of the job (it is not queueing other work), it holds as much of the job's prompt as any
        // candidate (no context is recomputed there that another replica keeps), and the contexts of the sessions placed
        // there recently, with the job's (less what it finds cached, its own or shared), fit in its KV cache (a new
        // conversation does not evict one about to come back). Pricing every session's turn at a fast replica wherever
        // it had room moved turns away from their busy holders and queued new conversations behind the fast replicas'
        // prefill once the fleet was loaded (docs/benchmarks.md, issue 14 "Ninth round" and "Tenth round").
        private readonly bool SessionFree(ReplicaView replica, long pendingPrefill, int cachedTokens) =>
            pendingPrefill == 0 && cachedTokens >= held
            && replica.LiveSessionTokens - cachedTokens + job.PromptTokens <= replica.KvCapacityTokens;

        private static bool Better(double cost, Rank rank, ReplicaView? best, double bestCost, Rank bestRank) =>
            cost < bestCost
            || (best is not null && cost == bestCost
                && (rank.TtftMs < bestRank.TtftMs || (rank.TtftMs == bestRank.TtftMs && rank.TieBefore(bestRank))));
    }

    /// <summary>What breaks ties: the predicted first token, then the prefill backlog, then the order.</summary>
    private readonly record struct Rank(double TtftMs, long PendingPrefill, int Order)
    {
        public bool TieBefore(Rank other) =>
            PendingPrefill < other.PendingPrefill || (PendingPrefill == other.PendingPrefill && Order < other.Order);
    }
}
