using Scheduler.Policies.Capacity;
using Scheduler.Simulator.Fleet;

namespace Scheduler.Simulator.Engine;

/// <summary>
/// The simulator's autoscaler: asks the shared <see cref="CapacityPolicy"/> what each hourly pool wants (a
/// <see cref="HourlyPool"/>: the replicas alike in product, price and limits) and acts as a cluster autoscaler would.
/// A replica asked for is paid for at once and takes work after the cold start; a pool that has wanted fewer for
/// <see cref="AutoscaleSettings.ScaleDownAfter"/> drains its least busy replicas (they take no new work) and releases
/// each once its batch is empty.
/// </summary>
internal sealed class PoolScaler
{
    private readonly AutoscaleSettings _settings;
    private readonly CapacityPolicy _policy = new();
    private readonly IReadOnlyList<SimReplica> _replicas;
    private readonly IReadOnlyList<HourlyPool> _pools;
    private readonly double[] _surplusSinceMs;

    public PoolScaler(AutoscaleSettings settings, IReadOnlyList<SimReplica> replicas)
    {
        _settings = settings;
        _replicas = replicas;
        _pools = HourlyPool.Of(replicas);
        _surplusSinceMs = [.. _pools.Select(_ => double.NaN)];
        foreach (var pool in _pools)
        {
            foreach (var i in pool.Members)
            {
                replicas[i].Unprovision();
                replicas[i].View.Schedulable = false;
            }
        }
    }

    /// <summary>The last decision: replicas wanted per pool.</summary>
    public IReadOnlyList<PoolWant> LastWants { get; private set; } = [];

    /// <summary>One control decision at <paramref name="nowMs"/>. Returns the replicas it asked for; each becomes
    /// schedulable at <paramref name="nowMs"/> + <paramref name="coldStartMs"/> (the caller schedules that).</summary>
    public List<int> Decide(double nowMs, DemandSignal demand, double coldStartMs)
    {
        ReleaseDrained(nowMs);
        var states = _pools.Select(p => new PoolState(p.Name, p.Profile, p.Members.Count(Active), p.Members.Length, TimeSpan.FromMilliseconds(coldStartMs))).ToList();
        LastWants = _policy.Want(demand, states);
        var started = new List<int>();
        for (var p = 0; p < _pools.Count; p++)
        {
            var members = _pools[p].Members;
            var have = states[p].Replicas;
            var want = LastWants[p].Replicas;
            if (want >= have)
            {
                _surplusSinceMs[p] = double.NaN;
                // A draining replica is still paid for and warm: take it back before asking for a new one.
                foreach (var i in members.Where(i => _replicas[i].Draining).Take(want - have).ToList())
                {
                    _replicas[i].Draining = false;
                    _replicas[i].View.Schedulable = true;
                    have++;
                }

                foreach (var i in members.Where(i => !_replicas[i].Provisioned).Take(want - have))
                {
                    _replicas[i].Provision(nowMs, nowMs + coldStartMs);
                    started.Add(i);
                }

                continue;
            }

            if (double.IsNaN(_surplusSinceMs[p]))
            {
                _surplusSinceMs[p] = nowMs;
            }

            if (nowMs - _surplusSinceMs[p] >= _settings.ScaleDownAfter.TotalMilliseconds)
            {
                foreach (var i in members.Where(Active).OrderBy(i => _replicas[i].View.RunningSequences).Take(have - want).ToList())
                {
                    _replicas[i].Draining = true;
                    _replicas[i].View.Schedulable = false;
                }

                _surplusSinceMs[p] = double.NaN;
                ReleaseDrained(nowMs);
            }
        }

        return started;
    }

    private bool Active(int index) => _replicas[index].Provisioned && !_replicas[index].Draining;

    private void ReleaseDrained(double nowMs)
    {
        foreach (var pool in _pools)
        {
            foreach (var i in pool.Members)
            {
                if (_replicas[i].Draining && !_replicas[i].HasWork && _replicas[i].View.RunningSequences == 0)
                {
                    _replicas[i].Release(nowMs);
                }
            }
        }
    }
}
