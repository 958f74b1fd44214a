namespace Scheduler.Policies.Fairness;

/// <summary>
/// The KV tokens each queued job of a class of a lane (or of a whole queue) needs, kept so the smallest is at hand: while
/// no replica has that much free, none of those jobs fits anywhere, and a round skips them all at once instead of asking
/// each (a flood of long prompts fills replicas' KV long before their slots, and every round walked the whole backlog).
/// </summary>
internal sealed class KvNeeds
{
    // Jobs per KV need (an entry per distinct need; O(log needs) to add or remove one). Made at the first job: a lane
    // keeps one of these per class for as long as its tenant is known, most of them never used.
    private SortedDictionary<long, int>? _jobsByNeed;

    /// <summary>The smallest KV need of a job held; <see cref="long.MaxValue"/> when none is.</summary>
    public long Smallest { get; private set; } = long.MaxValue;

    public void Add(long kvTokens)
    {
        _jobsByNeed ??= [];
        _jobsByNeed[kvTokens] = _jobsByNeed.GetValueOrDefault(kvTokens) + 1;
        Smallest = Math.Min(Smallest, kvTokens);
    }

    public void Remove(long kvTokens)
    {
        var jobs = _jobsByNeed![kvTokens] - 1;
        if (jobs > 0)
        {
            _jobsByNeed[kvTokens] = jobs;
            return;
        }

        _jobsByNeed.Remove(kvTokens);
        if (kvTokens == Smallest)
        {
            Smallest = long.MaxValue;
            foreach (var need in _jobsByNeed.Keys)
            {
                Smallest = need;
                break;
            }
        }
    }
}
