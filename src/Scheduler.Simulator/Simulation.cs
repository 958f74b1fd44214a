using Scheduler.Policies;
using Scheduler.Policies.Capacity;
using Scheduler.Policies.Dispatch;
using Scheduler.Policies.Placement;
using Scheduler.Simulator.Engine;
using Scheduler.Simulator.Fleet;
using Scheduler.Simulator.Metrics;
using Scheduler.Simulator.Workload;

namespace Scheduler.Simulator;

/// <summary>
/// The discrete-event simulation: a virtual clock in milliseconds, three kinds of event (a request arrives, a
/// replica's step ends, a metered endpoint's rate limit lets a held sequence start), and the placement grain's own
/// <see cref="Dispatcher"/> deciding admissions. Like the grain, it runs an admission round whenever work arrives or a
/// step report brings first tokens or finished sequences; like the worker, each replica steps by the shared step
/// model. Like the front door, it refuses a request over the model's context and fails one no replica could ever
/// hold; both are reported, never dropped. Message latencies are taken as zero.
/// </summary>
internal sealed class Simulation
{
    private readonly FleetSpec _fleet;
    private readonly Workload.Workload _workload;
    private readonly Dispatcher _dispatcher;
    private readonly List<SimReplica> _replicas = [];
    private readonly Dictionary<string, int> _replicaIndex = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SimSequence> _queued = new(StringComparer.Ordinal);
    private readonly PriorityQueue<(int Replica, EventKind Kind), (double At, long Seq)> _events = new();
    private readonly PoolScaler? _scaler;
    private readonly AutoscaleSettings? _autoscale;
    private readonly DemandWindow? _demand;
    private int _attainmentFrom;
    private int _idleDecisions;
    private readonly List<SimSequence> _finished = [];
    private readonly List<SimSequence> _unserved = [];
    private readonly VirtualClock _clock = new();
    private readonly FairnessTracker _fairness;
    private readonly PrefixLoss _prefixLoss = new();
    private long _eventSeq;

    /// <param name="fleet">The fleet; with <paramref name="autoscale"/>, each hourly group is a pool of up to its count
    /// (<see cref="HourlyPool"/>).</param>
    /// <param name="workload">The requests to replay.</param>
    /// <param name="policies">Placement, fairness and batching by name.</param>
    /// <param name="seed">Seed of the randomised policies.</param>
    /// <param name="autoscale">Null for a static fleet; else the hourly pools follow the shared capacity policy.</param>
    public Simulation(FleetSpec fleet, Workload.Workload workload, PolicyChoice policies, int seed, AutoscaleSettings? autoscale = null)
    {
        _fleet = fleet;
        _workload = workload;
        Policies = policies;
        _dispatcher = Dispatcher.Create(policies.Placement, policies.Fairness, policies.Batching, new Random(seed), maxPreemptions: policies.MaxPreemptions, maxDecodeDeferrals: policies.MaxDecodeDeferrals, contendedPrefillTokens: policies.ContendedPrefillTokens, time: _clock,
            placementSettings: new PlacementSettings { WaitCostUsdPerSecond = policies.WaitCostUsdPerSecond, SessionWaitCostUsdPerSecond = policies.SessionWaitCostUsdPerSecond },
            setAsideWithinClassAfter: TimeSpan.FromMilliseconds(policies.SetAsideWithinClassAfterMs));
        foreach (var (tenant, weight) in workload.Weights)
        {
            _dispatcher.Queue.SetWeight(tenant, weight);
        }

        // Replicas are numbered per product across the fleet, not per group: two groups of one product (spot and
        // on-demand, say) must not share ids.
        var numbered = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var group in fleet.Nodes)
        {
            var profile = group.Profile();
            for (var i = 0; i < group.Count; i++)
            {
                var number = numbered.GetValueOrDefault(profile.Product);
                numbered[profile.Product] = number + 1;
                var id = $"{profile.Product}-{number}";
                // The placement's mirror of a metered endpoint's limits, as the live placement keeps one from the node's
                // registration; the replica's own limiter is the engine's.
                var view = new ReplicaView(id, "node-" + id, "acc-" + id, profile, profile.MaxSequences, profile.KvCapacityTokens, group.Limiter(_clock));
                _dispatcher.Replicas[id] = view;
                _replicaIndex.Add(id, _replicas.Count);
                _replicas.Add(new SimReplica(view, policies.EngineCache ?? EngineCacheModel.Default, group.Limiter(_clock), policies.PrefillMicroBatchTokens));
            }
        }

        _fairness = new FairnessTracker(workload.Weights);
        if (autoscale is not null)
        {
            _autoscale = autoscale;
            _scaler = new PoolScaler(autoscale, _replicas);
            _demand = new DemandWindow(autoscale.Window, autoscale.PeakLookback);
        }
    }

    private enum EventKind
    {
        StepEnd,

        // A metered endpoint's rate limit lets a held sequence start.
        Wake,

        // An autoscaled replica's cold start is over.
        Ready,

        // The autoscaler decides (the replica index is unused).
        Control,
    }

    public PolicyChoice Policies { get; }

    /// <summary>Replays the whole workload until every request has finished.</summary>
    public RunResult Run()
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var requests = _workload.Requests;
        var next = 0;
        var now = 0.0;
        if (_scaler is not null)
        {
            // The operator's starting fleet: what the policy wants for the first window's arrivals, already warm.
            StartFleet(requests);
        }

        while (next < requests.Count || _events.Count > 0)
        {
            var nextArrival = next < requests.Count ? requests[next].ArrivalMs : double.PositiveInfinity;
            bool news;
            if (_events.TryPeek(out var e, out var at) && at.At <= nextArrival)
            {
                _events.Dequeue();
                if (e.Kind == EventKind.StepEnd && at.Seq != _replicas[e.Replica].StepEvent)
                {
                    // The end of a step an admission ended earlier: that end came first.
                    continue;
                }

                now = _clock.NowMs = at.At;
                news = e.Kind switch
                {
                    EventKind.StepEnd => _replicas[e.Replica].EndStep(now, _finished),
                    EventKind.Wake => Wake(e.Replica),
                    EventKind.Ready => Ready(e.Replica, now),
                    _ => Control(now, next < requests.Count),
                };

                if (e.Kind is EventKind.StepEnd or EventKind.Wake)
                {
                    StartIfIdle(e.Replica, now);
                }
            }
            else
            {
                now = _clock.NowMs = nextArrival;
                news = Arrive(requests[next++], now);
            }

            if (news)
            {
                AdmissionRound(now);
            }
        }

        // Every queued job fits some replica (Arrive checked), so the queue should drain; a job a policy left in it
        // still counts, as failed, rather than vanish from the figures.
        foreach (var left in _queued.Values)
        {
            Unserve(left, Unserved.NeverAdmitted);
        }

        var wallMs = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        return new RunResult(_workload.Name, _fleet, Policies, _finished, _unserved, _replicas, _fairness.Snapshot(), wallMs, _prefixLoss);
    }

    // False when the request was refused or failed on arrival (nothing new to admit).
    private bool Arrive(SimRequest request, double now)
    {
        var demand = new JobDemand(request.Id, request.TenantId, request.PromptTokens, request.OutputTokens, JobPriority.Standard,
            request.TtftObjectiveMs, VirtualClock.Epoch.AddMilliseconds(now), Blocks: request.Blocks,
            SessionId: _dispatcher.Placement.PlacesBySession ? request.SessionId : null);
        var sequence = new SimSequence(request, demand);
        if (sequence.Tokens > _fleet.MaxContextTokens)
        {
            return Unserve(sequence, Unserved.OverContext);
        }

        if (!_replicas.Exists(r => r.CanEverHold(sequence.Tokens)))
        {
            return Unserve(sequence, Unserved.NoReplicaCanHold);
        }

        _demand?.Arrived(VirtualClock.Epoch.AddMilliseconds(now), request.PromptTokens, request.OutputTokens, TimeSpan.FromMilliseconds(request.TtftObjectiveMs));

        _queued.Add(request.Id, sequence);
        _dispatcher.Queue.Enqueue(demand);
        _fairness.OnEnqueue(request.TenantId);
        return true;
    }

    private bool Wake(int index)
    {
        _replicas[index].WakeAtMs = double.PositiveInfinity;
        return false;
    }

    // True when the replica may now take work (news for an admission round).
    private bool Ready(int index, double now)
    {
        var replica = _replicas[index];
        if (!replica.ReadyAt(now))
        {
            return false; // released during its cold start
        }

        replica.View.Schedulable = true;
        return true;
    }

    private void StartFleet(IReadOnlyList<SimRequest> requests)
    {
        // The operator sized the starting fleet for the first window's arrivals: read them as a window of their own.
        var windowMs = _autoscale!.Window.TotalMilliseconds;
        var first = new DemandWindow(_autoscale.Window, _autoscale.Window);
        foreach (var r in requests.TakeWhile(r => r.ArrivalMs <= windowMs))
        {
            first.Arrived(VirtualClock.Epoch.AddMilliseconds(r.ArrivalMs), r.PromptTokens, r.OutputTokens, TimeSpan.FromMilliseconds(r.TtftObjectiveMs));
        }

        foreach (var i in _scaler!.Decide(0, first.Signal(VirtualClock.Epoch.AddMilliseconds(windowMs), 0, 0, 0), coldStartMs: 0))
        {
            _replicas[i].View.Schedulable = true;
        }

        _events.Enqueue((0, EventKind.Control), (_autoscale.ControlInterval.TotalMilliseconds, _eventSeq++));
    }

    // One autoscaler decision; the next is scheduled while there is anything left to do.
    private bool Control(double now, bool arrivalsLeft)
    {
        // First tokens are judged when their sequence finishes (the replica reports a sequence once), so the window's
        // attainment lags the live one by the decode time.
        var at = VirtualClock.Epoch.AddMilliseconds(now);
        for (var i = _attainmentFrom; i < _finished.Count; i++)
        {
            _demand!.FirstToken(at, _finished[i].MetObjective);
        }

        _attainmentFrom = _finished.Count;
        long queuedPrompt = 0, queuedOutput = 0;
        foreach (var q in _queued.Values)
        {
            queuedPrompt += q.Request.PromptTokens;
            queuedOutput += q.Request.OutputTokens;
        }

        var signal = _demand!.Signal(at, queuedPrompt, queuedOutput, _queued.Count);
        var coldStartMs = _autoscale!.ColdStart.TotalMilliseconds;
        foreach (var i in _scaler!.Decide(now, signal, coldStartMs))
        {
            _events.Enqueue((i, EventKind.Ready), (now + coldStartMs, _eventSeq++));
        }

        // Queued work with nothing running gets a few cold starts' worth of decisions to be placed; then it is left
        // (and reported as never admitted) rather than ticking forever.
        _idleDecisions = arrivalsLeft || _replicas.Exists(r => r.HasWork) ? 0 : _idleDecisions + 1;
        if (arrivalsLeft || _replicas.Exists(r => r.HasWork) || (_queued.Count > 0 && _idleDecisions * _autoscale.ControlInterval <= 3 * (_autoscale.ColdStart + _autoscale.ControlInterval)))
        {
            _events.Enqueue((0, EventKind.Control), (now + _autoscale.ControlInterval.TotalMilliseconds, _eventSeq++));
        }

        return false;
    }

    private bool Unserve(SimSequence sequence, Unserved why)
    {
        sequence.Unserved = why;
        _unserved.Add(sequence);
        return false;
    }

    private void AdmissionRound(double now)
    {
        if (_dispatcher.Queue.Count == 0 || (!AnyFreeSlot() && !_dispatcher.Preempts))
        {
            return;
        }

        var admissions = _dispatcher.AdmitWhatFits();
        if (admissions.Count == 0)
        {
            return;
        }

        _fairness.OnRound(admissions, _dispatcher.Queue);

        // Stops first: the room they free is what some of the admissions below take.
        foreach (var preempted in _dispatcher.Preemptions)
        {
            Requeue(preempted, now);
        }

        foreach (var admission in admissions)
        {
            _queued.Remove(admission.Job.JobId, out var sequence);
            var index = _replicaIndex[admission.Replica.ReplicaId];
            sequence!.AdmittedMs = now;
            sequence.Product = admission.Replica.Profile.Product;
            sequence.FairRank = admission.FairRank;
            sequence.DecodeDeferrals = admission.DecodeDeferrals;
            sequence.ContendedPrefillTokens = admission.ContendedPrefillTokens;
            sequence.ContendedPrefillWindowMs = Policies.ContendedPrefillWindowMs;
            _prefixLoss.Admitted(sequence, _replicas, _replicas[index]);
            var replica = _replicas[index];
            var stepEnd = replica.StepEndMs;
            if (!replica.Admit(sequence, now))
            {
                admission.Replica.Release(admission.Job.JobId);
                Unserve(sequence, Unserved.OverEndpointTokenLimit);
                continue;
            }

            if (replica.Stepping && replica.StepEndMs < stepEnd)
            {
                // The admission ended the step under way early (StepPlan.YieldAfter).
                replica.StepEvent = _eventSeq;
                _events.Enqueue((index, EventKind.StepEnd), (replica.StepEndMs, _eventSeq++));
            }

            StartIfIdle(index, now);
        }
    }

    // The engine stops the victim; it goes back to the front of its tenant's queue to resume from the tokens it
    // delivered, as the live placement queues a sequence handed back (its first admission's charge stands).
    private void Requeue(Preempted preempted, double now)
    {
        var index = _replicaIndex[preempted.Replica.ReplicaId];
        if (_replicas[index].Preempt(preempted.Victim.JobId, now) is not { } sequence)
        {
            return;
        }

        sequence.Resume();
        _dispatcher.Queue.EnqueueFront(sequence.Demand);
        _fairness.OnEnqueue(sequence.Request.TenantId);
        _queued.Add(sequence.Request.Id, sequence);
    }

    // Cheap guard: a round on a full fleet would scan the whole backlog for nothing.
    private bool AnyFreeSlot()
    {
        foreach (var replica in _replicas)
        {
            if (replica.View.FreeSlots > 0 && replica.View.Schedulable)
            {
                return true;
            }
        }

        return false;
    }

    private void StartIfIdle(int index, double now)
    {
        var replica = _replicas[index];
        if (replica.Stepping || !replica.HasWork)
        {
            return;
        }

        if (replica.HasReadyWork(now))
        {
            var ms = replica.StartStep(now);
            replica.StepEvent = _eventSeq;
            _events.Enqueue((index, EventKind.StepEnd), (now + ms, _eventSeq++));
        }
        else if (replica.NextReadyMs < replica.WakeAtMs)
        {
            // Everything in the batch is held by the endpoint's rate limits: wake when the first may start.
            replica.WakeAtMs = replica.NextReadyMs;
            _events.Enqueue((index, EventKind.Wake), (replica.WakeAtMs, _eventSeq++));
        }
    }
}
