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

    // Every lane by its ordinal (its index here), for the class indices, which name lanes by ordinal.
    private readonly List<TenantLane> _lanes = [];

    // Queued jobs per class (indexed by JobPriority), so a round skips empty classes without visiting every lane.
    private readonly int[] _countByPriority = new int[4];
    private static readonly JobPriority[] s_priorities = Enum.GetValues<JobPriority>();

    // Per class, the counter of the last tenant whose backlog in that class ran out: a tenant arriving to a class
    // nobody is backlogged in starts there (VTC).
    private readonly double[] _lastDrainedCounter = new double[4];

    // Per class, the tenants backlogged in it by counter, each weighed by its jobs of the class: the lowest counter (where a
    // newly backlogged tenant starts, and IsNextInLine's test, which a round without room asks of every queued job) and a
    // job's queue position, without a scan of every tenant. Each lane's entries are taken out before its counter or
    // its jobs change and put back after (Unindex, Reindex).
    private readonly CounterIndex[] _byCounter = [new(), new(), new(), new()];

    public string Name => PolicyName;

    public int Count => _laneOfJob.Count;

    public QueueTally Tally { get; } = new();

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
        Unindex(lane);
        Tally.Remove(lane.Remove(jobId)!);
        Reindex(lane);
        return true;
    }

    public JobDemand? DequeueNext(Func<JobDemand, bool> canPlace, long maxKvTokens = long.MaxValue) => Dequeue(canPlace, maxKvTokens, headsOnly: false);

    public JobDemand? DequeueNextHead(Func<JobDemand, bool> canServe) => Dequeue(canServe, long.MaxValue, headsOnly: true);

    private JobDemand? Dequeue(Func<JobDemand, bool> canPlace, long maxKvTokens, bool headsOnly)
    {
        // Strict priority first; within a class, the lowest virtual counter (lanes asked in that order, ties by the
        // lane's age, and none after the first with a job to serve); within a tenant, its own order.
        foreach (var priority in s_priorities)
        {
            if (_countByPriority[(int)priority] == 0)
            {
                continue;
            }

            var pick = new LanePick(_lanes, priority, canPlace, maxKvTokens, headsOnly);
            if (_byCounter[(int)priority].FirstAccepted(ref pick) < 0)
            {
                continue;
            }

            var (lane, job) = (_lanes[pick.Ordinal], pick.Job!);
            Unindex(lane);
            lane.Remove(job.JobId);
            Tally.Remove(job);
            _laneOfJob.Remove(job.JobId);
            _countByPriority[(int)priority]--;
            lane.Counter += job.ServiceUnits / lane.Weight;
            Reindex(lane);
            if (lane.CountIn(priority) == 0)
            {
                _lastDrainedCounter[(int)priority] = Math.Max(_lastDrainedCounter[(int)priority], lane.Counter);
            }

            return job;
        }

        return null;
    }

    public JobDemand? PeekNext()
    {
        // DequeueNext's order with every job placeable: the highest class queued, its lowest counter, the lane's first.
        foreach (var priority in s_priorities)
        {
            if (_byCounter[(int)priority].FirstOrdinal is >= 0 and var ordinal)
            {
                return _lanes[ordinal].First(priority);
            }
        }

        return null;
    }

    public void Adjust(string tenantId, double serviceUnits)
    {
        if (_tenants.TryGetValue(tenantId, out var lane))
        {
            Unindex(lane);
            lane.Counter += serviceUnits / lane.Weight;
            Reindex(lane);
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

        // In serving order: the jobs of higher classes, those of its class in lanes a pick serves first (a lower counter,
        // or the same and older: tied tenants' first jobs are not both next), and those of its class ahead of it in its
        // lane (an estimate: jobs behind an unplaceable one may go first, and tenants' jobs interleave as counters grow).
        var priority = lane.PriorityOf(jobId);
        var position = 0;
        for (var higher = JobPriority.Critical; higher < priority; higher++)
        {
            position += _countByPriority[(int)higher];
        }

        return position + _byCounter[(int)priority].JobsBefore(lane.Counter, lane.Ordinal) + lane.IndexInClass(jobId);
    }

    private void Add(JobDemand job, bool front)
    {
        // A job id is queued at most once: enqueuing it again moves it.
        Remove(job.JobId);
        var lane = Lane(job.TenantId);
        Unindex(lane);
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
        Tally.Add(job);
        _laneOfJob[job.JobId] = lane;
        _countByPriority[(int)job.Priority]++;
        Reindex(lane);
    }

    private double LowestCounter(JobPriority priority) => _byCounter[(int)priority].Lowest;

    /// <summary>Takes a lane's entries out of the class indices, before its counter or its queued jobs change.</summary>
    private void Unindex(TenantLane lane)
    {
        foreach (var priority in s_priorities)
        {
            if (lane.CountIn(priority) > 0)
            {
                _byCounter[(int)priority].Remove(lane.Counter, lane.Ordinal);
            }
        }
    }

    /// <summary>Puts a lane's entries back into the class indices, with its counter and queued jobs as they are now.</summary>
    private void Reindex(TenantLane lane)
    {
        foreach (var priority in s_priorities)
        {
            if (lane.CountIn(priority) is > 0 and var jobs)
            {
                _byCounter[(int)priority].Add(lane.Counter, lane.Ordinal, jobs);
            }
        }
    }

    private TenantLane Lane(string tenantId)
    {
        if (!_tenants.TryGetValue(tenantId, out var lane))
        {
            lane = new TenantLane(_lanes.Count);
            _tenants[tenantId] = lane;
            _lanes.Add(lane);
        }

        return lane;
    }

    /// <summary>A lane's job for <see cref="Dequeue"/>: the first its test accepts (every job of the class, or only the
    /// first), kept with the lane's ordinal once found.</summary>
    private struct LanePick(List<TenantLane> lanes, JobPriority priority, Func<JobDemand, bool> canPlace, long maxKvTokens, bool headsOnly) : ILaneTest
    {
        public int Ordinal { get; private set; } = -1;

        public JobDemand? Job { get; private set; }

        public bool Accepts(int ordinal)
        {
            var lane = lanes[ordinal];
            Job = headsOnly ? lane.FirstIf(priority, canPlace) : lane.FirstPlaceable(priority, canPlace, maxKvTokens);
            Ordinal = ordinal;
            return Job is not null;
        }
    }
}
