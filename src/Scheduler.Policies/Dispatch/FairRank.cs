using Scheduler.Policies.Placement;

namespace Scheduler.Policies.Dispatch;

/// <summary>
/// A job's fair rank on the replica it joins, the order its engine fills a step's prefill budget in
/// (<see cref="Profiles.PrefillOrder"/>): a start tag of start-time fair queuing over prefill tokens, per replica. A job
/// starts at the replica's virtual time (<see cref="ReplicaView.PrefilledRank"/>, the highest rank prefilled there) or
/// where its tenant's previous job there finishes, whichever is later, and finishes its prompt's tokens per unit of the
/// tenant's weight later. A queue without shares (FIFO) ranks every job alike, so engines keep admission order.
/// </summary>
/// <remarks>
/// A tenant that is not backlogged in the fair queue does not push its next start back, so on a fleet that keeps up
/// every job starts at the virtual time, prefill stays in arrival order and first tokens come when the placement
/// predicted (a rank for every tenant's every prompt cost cost-aware its attainment on the traces: see
/// docs/benchmarks.md). A flooding tenant, backlogged, pushes its next start back with every prompt admitted, so a
/// light tenant's prompt is prefilled before the flood's.
/// A job is overtaken only by jobs starting below its own start, and every start is at least the virtual time, which
/// rises as prompts are prefilled: unlike a rank by sequences held, no job waits behind newcomers indefinitely.
/// The queue's own virtual counters cannot order work inside a batch: a light tenant that becomes backlogged starts at
/// the flooding tenant's counter, above the counters the flood's already admitted jobs were served at.
/// </remarks>
internal static class FairRank
{
    /// <summary>The job's rank (start) on <paramref name="replica"/>, for a tenant of <paramref name="weight"/> in the
    /// fair queue (<c>IFairQueue.WeightOf</c>; null under a queue without shares).</summary>
    public static double StartOf(JobDemand job, ReplicaView replica, double? weight) =>
        weight is null ? 0 : Math.Max(replica.PrefilledRank, replica.FairFinishOf(job.TenantId));

    /// <summary>The job's rank (start) and its tenant's next start (finish) on <paramref name="replica"/>. Only a tenant
    /// still <paramref name="backlogged"/> in the fair queue after this job (more work than the fleet takes now) pushes
    /// its next start back by this prompt; others' next jobs start level with everyone's.</summary>
    public static (double Start, double Finish) Of(JobDemand job, ReplicaView replica, double? weight, bool backlogged)
    {
        var start = StartOf(job, replica, weight);
        return (start, weight is { } w && backlogged ? start + (job.PromptTokens / w) : start);
    }
}
