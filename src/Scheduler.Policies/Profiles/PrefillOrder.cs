namespace Scheduler.Policies.Profiles;

/// <summary>
/// The order in which a running batch spends a step's prefill budget (<see cref="StepPlan"/>): ascending fair rank
/// (the scheduler's <c>FairRank</c>), equal ranks in admission order. The worker's engines and the
/// simulator keep their batches in this order, so a light tenant's prompt is not queued behind a flood's.
/// </summary>
public static class PrefillOrder
{
    /// <summary>Where a sequence of <paramref name="rank"/> joins <paramref name="batch"/>, which is in prefill order:
    /// after every sequence whose rank is not above its own.</summary>
    public static int InsertionIndex<T>(IReadOnlyList<T> batch, double rank, Func<T, double> rankOf)
    {
        // Searched from the end: ranks mostly grow with admission, so the place is usually at or near the end.
        var index = batch.Count;
        while (index > 0 && rankOf(batch[index - 1]) > rank)
        {
            index--;
        }

        return index;
    }
}
