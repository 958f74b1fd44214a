namespace Scheduler.Policies.Fairness;

/// <summary>
/// Virtual token counters (VTC, Sheng et al., OSDI 2024) with strict priority classes above them.
/// Each tenant's counter grows by the service it receives (input tokens ×1, output tokens ×2) divided by its
/// weight; the backlogged tenant with the lowest counter is served next, so service is shared by weight and a
/// flooding tenant cannot starve a light one. A tenant that becomes backlogged starts at the minimum counter
/// of the backlogged tenants, so idling earns no credit to burst with later.
/// Priority classes are strict: a lower class is offered capacity only when no job of a higher class can be placed
/// (work conservation: a critical job too large for the free KV lets smaller jobs of lower classes use it). The
/// counters span classes — a tenant's critical service is charged like any other — so a tenant cannot buy extra
/// share by labelling work critical; it only buys earlier service. Within a tenant and class: earliest deadline
/// first, then arrival order (<see cref="TenantLane"/>).
/// </summary>
internal sealed class WeightedFairQueue : IFairQueue
{
    public const string PolicyName = "weighted-fair";

    private readonly Dictionary<string, TenantLane> _tenants = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TenantLane> _laneOfJob = new(StringComparer.Ordinal);

    // Queued jobs per class (indexed by JobPriority), so a round skips empty classes without visiting every lane.
    private readonly int[] _countByPriority = new int[4];
    private static readonly JobPriority[] s_priorities = Enum.GetValues<JobPriority>();

    // Per class, the counter of the last tenant whose backlog in that class ran out: a tenant arriving to a class
    // nobody is backlogged in starts there (VTC).
    private readonly double[] _lastDrainedCounter = new double[4];

    // Per class, the lowest counter of the tenants backlogged in it (+∞: none), kept until the queue changes. A round
    // that finds no room asks IsNextInLine of every queued job (Dispatcher: may it make room by preemption?), and a
    // scan of every tenant for each made that round cost tenants × queued jobs: 2 s at 10,000 tenants, at every
    // submission.
    private readonly double[] _lowestCounter = new double[4];
    private readonly bool[] _lowestCounterKept = new bool[4];

    public string Name => PolicyName;

    public int Count => _laneOfJob.Count;

    public void SetWeight(string tenantId, double weight)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(weight, 0);
        Lane(tenantId).Weight = weight;
    }

    public void Enqueue(JobDemand job) => Add(job, front: false);

    public void EnqueueFront(JobDemand job) => Add(job, front: true);

    public bool Remove(string jobId)
    {
        if (!_laneOfJob.Remove(jobId, out var lane))
        {
            return false;
        }

        _countByPriority[(int)lane.PriorityOf(jobId)]--;
        lane.Remove(jobId);
        Array.Clear(_lowestCounterKept);
        return true;
    }

    public JobDemand? DequeueNext(Func<JobDemand, bool> canPlace) => Dequeue(canPlace, headsOnly: false);

    public JobDemand? DequeueNextHead(Func<JobDemand, bool> canServe) => Dequeue(canServe, headsOnly: true);

    private JobDemand? Dequeue(Func<JobDemand, bool> canPlace, bool headsOnly)
    {
        // Strict priority first; within a class, the lowest virtual counter; within a tenant, its own order.
        foreach (var priority in s_priorities)
        {
            if (_countByPriority[(int)priority] == 0)
            {
                continue;
            }

            TenantLane? best = null;
            JobDemand? bestJob = null;
            foreach (var lane in _tenants.Values)
            {
                if (best is not null && lane.Counter >= best.Counter)
                {
                    continue;
                }

                var job = headsOnly ? lane.FirstIf(priority, canPlace) : lane.FirstPlaceable(priority, canPlace);
                if (job is not null)
                {
                    best = lane;
                    bestJob = job;
                }
            }

            if (best is not null && bestJob is not null)
            {
                best.Remove(bestJob.JobId);
                _laneOfJob.Remove(bestJob.JobId);
                Array.Clear(_lowestCounterKept);
                _countByPriority[(int)priority]--;
                best.Counter += bestJob.ServiceUnits / best.Weight;
                if (best.CountIn(priority) == 0)
                {
                    _lastDrainedCounter[(int)priority] = Math.Max(_lastDrainedCounter[(int)priority], best.Counter);
                }

                return bestJob;
            }
        }

        return null;
    }

    public JobDemand? PeekNext()
    {
        // DequeueNext's order with every job placeable: the highest class queued, its lowest counter, the lane's first.
        foreach (var priority in s_priorities)
        {
            if (_countByPriority[(int)priority] == 0)
            {
                continue;
            }

            TenantLane? best = null;
            foreach (var lane in _tenants.Values)
            {
                if (lane.CountIn(priority) > 0 && (best is null || lane.Counter < best.Counter))
                {
                    best = lane;
                }
            }

            return best?.First(priority);
        }

        return null;
    }

    public void Adjust(string tenantId, double serviceUnits)
    {
        if (_tenants.TryGetValue(tenantId, out var lane))
        {
            lane.Counter += serviceUnits / lane.Weight;
            Array.Clear(_lowestCounterKept);
        }
    }

    public double? WeightOf(string tenantId) => _tenants.TryGetValue(tenantId, out var lane) ? lane.Weight : 1.0;

    public bool IsNextInLine(JobDemand job)
    {
        if (!_tenants.TryGetValue(job.TenantId, out var lane))
        {
            return false;
        }

        // A job just served was charged: its claim is the counter it was served at.
        var counter = _laneOfJob.ContainsKey(job.JobId) ? lane.Counter : lane.Counter - (job.ServiceUnits / lane.Weight);

        for (var higher = JobPriority.Critical; higher < job.Priority; higher++)
        {
            if (_countByPriority[(int)higher] > 0)
            {
                return false;
            }
        }

        // Ties allowed: a tenant newly backlogged starts level with the lowest counter, and is as next as that one. The
        // job's own lane never has a lower counter than the job's claim, so the lowest over every lane decides.
        return LowestCounter(job.Priority) >= counter;
    }

    public int CountOf(string tenantId) => _tenants.TryGetValue(tenantId, out var lane) ? lane.Count : 0;

    public int PositionOf(string jobId)
    {
        if (!_laneOfJob.TryGetValue(jobId, out var lane))
        {
            return -1;
        }

        // An estimate in serving order: jobs of higher classes, plus jobs of lanes with lower counters.
        var position = 0;
        foreach (var other in _tenants.Values)
        {
            position += other == lane ? lane.IndexOf(jobId) : other.CountAhead(lane.PriorityOf(jobId), other.Counter < lane.Counter);
        }

        return position;
    }

    private void Add(JobDemand job, bool front)
    {
        // A job id is queued at most once: enqueuing it again moves it.
        Remove(job.JobId);
        var lane = Lane(job.TenantId);
        if (lane.CountIn(job.Priority) == 0)
        {
            // Newly backlogged in this class: start at the minimum counter of the tenants already backlogged in it,
            // or, when none is, where the class's last backlog ran out — either way idling earns no credit to burst
            // with. Per class, because a tenant waiting only in a lower class is not being served: its counter lags,
            // and counting it would hand a newcomer that lag as credit over the tenants actually being served.
            // The lane has none of the class queued, so the lowest counter of those backlogged in it is the others'.
            var floor = LowestCounter(job.Priority);
            lane.Counter = Math.Max(lane.Counter, double.IsPositiveInfinity(floor) ? _lastDrainedCounter[(int)job.Priority] : floor);
        }

        lane.Add(job, front);
        _laneOfJob[job.JobId] = lane;
        _countByPriority[(int)job.Priority]++;
        Array.Clear(_lowestCounterKept);
    }

    private double LowestCounter(JobPriority priority)
    {
        if (!_lowestCounterKept[(int)priority])
        {
            var lowest = double.PositiveInfinity;
            foreach (var lane in _tenants.Values)
            {
                if (lane.CountIn(priority) > 0)
                {
                    lowest = Math.Min(lowest, lane.Counter);
                }
            }

            _lowestCounter[(int)priority] = lowest;
            _lowestCounterKept[(int)priority] = true;
        }

        return _lowestCounter[(int)priority];
    }

    private TenantLane Lane(string tenantId)
    {
        if (!_tenants.TryGetValue(tenantId, out var lane))
        {
            lane = new TenantLane();
            _tenants[tenantId] = lane;
        }

        return lane;
    }
}
