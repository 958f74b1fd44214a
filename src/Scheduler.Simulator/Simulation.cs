using Scheduler.Policies;
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
    private readonly PriorityQueue<(int Replica, bool Wake), (double At, long Seq)> _events = new();
    private readonly List<SimSequence> _finished = [];
    private readonly List<SimSequence> _unserved = [];
    private readonly VirtualClock _clock = new();
    private readonly FairnessTracker _fairness;
    private long _eventSeq;

    public Simulation(FleetSpec fleet, Workload.Workload workload, PolicyChoice policies, int seed)
    {
        _fleet = fleet;
        _workload = workload;
        Policies = policies;
        _dispatcher = Dispatcher.Create(policies.Placement, policies.Fairness, policies.Batching, new Random(seed));
        foreach (var (tenant, weight) in workload.Weights)
        {
            _dispatcher.Queue.SetWeight(tenant, weight);
        }

        foreach (var group in fleet.Nodes)
        {
            var profile = group.Profile();
            for (var i = 0; i < group.Count; i++)
            {
                var id = $"{group.Product}-{i}";
                var view = new ReplicaView(id, "node-" + id, "acc-" + id, profile, profile.MaxSequences, profile.KvCapacityTokens);
                _dispatcher.Replicas[id] = view;
                _replicaIndex.Add(id, _replicas.Count);
                _replicas.Add(new SimReplica(view, group.Limiter(_clock)));
            }
        }

        _fairness = new FairnessTracker(workload.Weights);
    }

    public PolicyChoice Policies { get; }

    /// <summary>Replays the whole workload until every request has finished.</summary>
    public RunResult Run()
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var requests = _workload.Requests;
        var next = 0;
        var now = 0.0;
        while (next < requests.Count || _events.Count > 0)
        {
            var nextArrival = next < requests.Count ? requests[next].ArrivalMs : double.PositiveInfinity;
            bool news;
            if (_events.TryPeek(out var e, out var at) && at.At <= nextArrival)
            {
                _events.Dequeue();
                now = _clock.NowMs = at.At;
                var replica = _replicas[e.Replica];
                if (e.Wake)
                {
                    replica.WakeAtMs = double.PositiveInfinity;
                    news = false;
                }
                else
                {
                    news = replica.EndStep(now, _finished);
                }

                StartIfIdle(e.Replica, now);
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
        return new RunResult(_workload.Name, _fleet, Policies, _finished, _unserved, _replicas, _fairness.Snapshot(), wallMs);
    }

    // False when the request was refused or failed on arrival (nothing new to admit).
    private bool Arrive(SimRequest request, double now)
    {
        var sequence = new SimSequence(request);
        if (sequence.Tokens > _fleet.MaxContextTokens)
        {
            return Unserve(sequence, Unserved.OverContext);
        }

        if (!_replicas.Exists(r => r.CanEverHold(sequence.Tokens)))
        {
            return Unserve(sequence, Unserved.NoReplicaCanHold);
        }

        var demand = new JobDemand(request.Id, request.TenantId, request.PromptTokens, request.OutputTokens, JobPriority.Standard,
            request.TtftObjectiveMs, VirtualClock.Epoch.AddMilliseconds(now));
        _queued.Add(request.Id, sequence);
        _dispatcher.Queue.Enqueue(demand);
        _fairness.OnEnqueue(request.TenantId);
        return true;
    }

    private bool Unserve(SimSequence sequence, Unserved why)
    {
        sequence.Unserved = why;
        _unserved.Add(sequence);
        return false;
    }

    private void AdmissionRound(double now)
    {
        if (_dispatcher.Queue.Count == 0 || !AnyFreeSlot())
        {
            return;
        }

        var admissions = _dispatcher.AdmitWhatFits();
        if (admissions.Count == 0)
        {
            return;
        }

        _fairness.OnRound(admissions, _dispatcher.Queue);
        foreach (var admission in admissions)
        {
            _queued.Remove(admission.Job.JobId, out var sequence);
            var index = _replicaIndex[admission.Replica.ReplicaId];
            sequence!.AdmittedMs = now;
            sequence.Product = admission.Replica.Profile.Product;
            if (!_replicas[index].Admit(sequence, now))
            {
                admission.Replica.Release(admission.Job.JobId);
                Unserve(sequence, Unserved.OverEndpointTokenLimit);
                continue;
            }

            StartIfIdle(index, now);
        }
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
            _events.Enqueue((index, false), (now + ms, _eventSeq++));
        }
        else if (replica.NextReadyMs < replica.WakeAtMs)
        {
            // Everything in the batch is held by the endpoint's rate limits: wake when the first may start.
            replica.WakeAtMs = replica.NextReadyMs;
            _events.Enqueue((index, true), (replica.WakeAtMs, _eventSeq++));
        }
    }
}
