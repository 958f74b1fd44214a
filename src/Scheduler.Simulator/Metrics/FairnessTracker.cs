using Scheduler.Policies.Dispatch;
using Scheduler.Policies.Fairness;
using Scheduler.Simulator.Reports;

namespace Scheduler.Simulator.Metrics;

/// <summary>
/// Measures fairness between backlogged tenants in weighted tokens (input ×1, output ×2, ÷ weight — the VTC unit),
/// counted when a job is admitted, as the fair queue charges it.
/// <list type="bullet">
/// <item>Max service gap: over every interval in which two tenants are both backlogged, the largest difference of
/// the weighted service they received in it (VTC bounds it by 2× the largest request).</item>
/// <item>Jain's index over each tenant's received ÷ entitled service under contention: each admission made while two
/// or more tenants are backlogged entitles every backlogged tenant to its weight's share of that admission's tokens.
/// 1 is perfectly weighted-fair.</item>
/// </list>
/// </summary>
internal sealed class FairnessTracker
{
    private readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);
    private readonly List<string> _tenants = [];
    private readonly List<double> _weights = [];
    private readonly List<double> _service = [];
    private readonly List<int> _queued = [];
    private readonly List<double> _received = [];
    private readonly List<double> _entitled = [];

    // The tenants with queued jobs, in index order (the order the sums below were always taken in). Only they are
    // visited: a KV trace whose every conversation is a tenant has tens of thousands, few of them backlogged at once,
    // and a pass over all of them per admission (with a baseline kept for every pair) took 13 s and 1.3 GB for
    // 10,000 one-request sessions.
    private readonly SortedSet<int> _backlogged = [];

    // _baseline[i][j] = service[i] - service[j] when i and j last became jointly backlogged; kept while both are.
    private readonly List<Dictionary<int, double>> _baseline = [];
    private readonly IReadOnlyDictionary<string, double> _weightOf;
    private readonly List<int> _drained = [];
    private double _maxGap;
    private double _largestRequest;

    public FairnessTracker(IReadOnlyDictionary<string, double> weights) => _weightOf = weights;

    public void OnEnqueue(string tenant)
    {
        var i = Index(tenant);
        if (_queued[i]++ > 0)
        {
            return;
        }

        foreach (var j in _backlogged)
        {
            if (j != i && _queued[j] > 0)
            {
                _baseline[i][j] = _service[i] - _service[j];
                _baseline[j][i] = -_baseline[i][j];
            }
        }

        _backlogged.Add(i);
    }

    /// <summary>Accounts a round's admissions in order; a tenant stays backlogged until its last queued job leaves.</summary>
    public void OnRound(IReadOnlyList<Admission> admissions, IFairQueue queue)
    {
        foreach (var admission in admissions)
        {
            var i = Index(admission.Job.TenantId);
            if (admission.Job.Preemptions > 0)
            {
                // A preempted job resuming: its service was counted, and charged, at its first admission.
                _queued[i]--;
                continue;
            }

            var tokens = admission.Job.ServiceUnits;
            _largestRequest = Math.Max(_largestRequest, tokens);
            Contend(i, tokens);
            _service[i] += tokens / _weights[i];
            foreach (var j in _backlogged)
            {
                if (j != i && _queued[j] > 0)
                {
                    _maxGap = Math.Max(_maxGap, Math.Abs(_service[i] - _service[j] - _baseline[i][j]));
                }
            }

            _queued[i]--;
        }

        // The queue is the truth (jobs are only removed by admission here; this guards against drift). Every job queued
        // was told to OnEnqueue, so a tenant outside the backlog has none.
        foreach (var i in _backlogged)
        {
            _queued[i] = queue.CountOf(_tenants[i]);
            if (_queued[i] == 0)
            {
                _drained.Add(i);
            }
        }

        foreach (var i in _drained)
        {
            _backlogged.Remove(i);
            foreach (var j in _baseline[i].Keys)
            {
                _baseline[j].Remove(i);
            }

            _baseline[i].Clear();
        }

        _drained.Clear();
    }

    public FairnessResult Snapshot()
    {
        var shares = new List<double>();
        for (var i = 0; i < _tenants.Count; i++)
        {
            if (_entitled[i] > 0)
            {
                shares.Add(_received[i] / _entitled[i]);
            }
        }

        var sum = shares.Sum();
        var squares = shares.Sum(x => x * x);
        var jain = shares.Count == 0 || squares == 0 ? 1.0 : sum * sum / (shares.Count * squares);
        return new FairnessResult(_maxGap, 2 * _largestRequest, jain);
    }

    private void Contend(int admitted, double tokens)
    {
        var totalWeight = 0.0;
        var backlogged = 0;
        foreach (var j in _backlogged)
        {
            if (_queued[j] > 0)
            {
                totalWeight += _weights[j];
                backlogged++;
            }
        }

        if (backlogged < 2)
        {
            return;
        }

        _received[admitted] += tokens;
        foreach (var j in _backlogged)
        {
            if (_queued[j] > 0)
            {
                _entitled[j] += tokens * _weights[j] / totalWeight;
            }
        }
    }

    private int Index(string tenant)
    {
        if (_index.TryGetValue(tenant, out var i))
        {
            return i;
        }

        i = _tenants.Count;
        _index.Add(tenant, i);
        _tenants.Add(tenant);
        _weights.Add(_weightOf.GetValueOrDefault(tenant, 1.0));
        _service.Add(0);
        _queued.Add(0);
        _received.Add(0);
        _entitled.Add(0);
        _baseline.Add([]);
        return i;
    }
}

/// <summary>Fairness of one run: the max service gap (weighted tokens), VTC's bound for it, Jain's index.</summary>
internal sealed record FairnessResult(double MaxServiceGap, double VtcBound, double JainIndex)
{
    /// <summary>The figures as reports print them (a record's default text prints raw doubles and its own name).</summary>
    public override string ToString() =>
        $"fairness: max service gap {Format.Num(MaxServiceGap, "#,0")} wtok (VTC bound {Format.Num(VtcBound, "#,0")}), Jain {Format.Num(JainIndex, "0.000")}";
}
