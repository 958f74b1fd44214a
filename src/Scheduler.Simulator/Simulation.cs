using Scheduler.Policies;
using Scheduler.Policies.Dispatch;
using Scheduler.Policies.Placement;
using Scheduler.Simulator.Engine;
using Scheduler.Simulator.Fleet;
using Scheduler.Simulator.Metrics;
using Scheduler.Simulator.Workload;

namespace Scheduler.Simulator;

/// <summary>
/// The discrete-event simulation: a virtual clock in milliseconds, two kinds of event (a request arrives, a
/// replica's step ends), and the placement grain's own <see cref="Dispatcher"/> deciding admissions. Like the grain,
/// it runs an admission round whenever work arrives or a step report brings first tokens or finished sequences;
/// like the worker, each replica steps by the shared step model. Message latencies are taken as zero.
/// </summary>
internal sealed class Simulation
{
    // Virtual time zero; JobDemand carries absolute times.
    private static readonly DateTimeOffset s_epoch = new(2023, 11, 16, 0, 0, 0, TimeSpan.Zero);

    private readonly FleetSpec _fleet;
    private readonly Workload.Workload _workload;
    private readonly Dispatcher _dispatcher;
    private readonly List<SimReplica> _replicas = [];
    private readonly Dictionary<string, int> _replicaIndex = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SimSequence> _queued = new(StringComparer.Ordinal);
    private readonly PriorityQueue<int, (double At, long Seq)> _stepEnds = new();
    private readonly List<SimSequence> _finished = [];
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
                _replicas.Add(new SimReplica(view));
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
        while (next < requests.Count || _stepEnds.Count > 0)
        {
            var nextArrival = next < requests.Count ? requests[next].ArrivalMs : double.PositiveInfinity;
            bool news;
            if (_stepEnds.TryPeek(out var index, out var end) && end.At <= nextArrival)
            {
                _stepEnds.Dequeue();
                now = end.At;
                news = _replicas[index].EndStep(now, _finished);
                StartIfIdle(index, now);
            }
            else
            {
                now = nextArrival;
                Arrive(requests[next++], now);
                news = true;
            }

            if (news)
            {
                AdmissionRound(now);
            }
        }

        var wallMs = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        return new RunResult(_workload.Name, _fleet, Policies, _finished, _replicas, _fairness.Snapshot(), wallMs);
    }

    private void Arrive(SimRequest request, double now)
    {
        var demand = new JobDemand(request.Id, request.TenantId, request.PromptTokens, request.OutputTokens, JobPriority.Standard,
            request.TtftObjectiveMs, s_epoch.AddMilliseconds(now));
        _queued.Add(request.Id, new SimSequence(request));
        _dispatcher.Queue.Enqueue(demand);
        _fairness.OnEnqueue(request.TenantId);
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
            sequence.FairRank = admission.FairRank;
            _replicas[index].Admit(sequence);
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
        if (!replica.Stepping && replica.HasWork)
        {
            var ms = replica.StartStep();
            _stepEnds.Enqueue(index, (now + ms, _eventSeq++));
        }
    }
}
