using Scheduler.Policies.Placement;

namespace Scheduler.Policies.Dispatch;

/// <summary>
/// A job's fair rank on the replica it joins, the order its engine fills a step's prefill budget in
/// (<see cref="Profiles.PrefillOrder"/>): its tenant's sequences already running there per unit of the tenant's weight
/// in the fair queue, and never below the rank of the tenant's job admitted there before while any of them still runs,
/// so a tenant's own jobs keep their admission order. A queue without shares (FIFO) ranks every job alike, so engines
/// keep admission order.
/// </summary>
/// <remarks>
/// The queue's own virtual counters cannot order work inside a batch: a light tenant that becomes backlogged starts at
/// the flooding tenant's counter, above the counters the flood's already admitted jobs were served at, so ranking by it
/// would put the light job behind every flood prefill waiting in the engine — arrival order again. Counting what each
/// tenant already holds on the replica (a start tag of a per-replica VTC, in slots) puts the light job first.
/// </remarks>
internal static class FairRank
{
    /// <summary>The job's rank on <paramref name="replica"/>, for a tenant of <paramref name="weight"/> in the fair
    /// queue (<c>IFairQueue.WeightOf</c>; null under a queue without shares).</summary>
    public static double Of(JobDemand job, ReplicaView replica, double? weight) =>
        weight is { } w ? Math.Max(replica.RunningOf(job.TenantId) / w, replica.LastRankOf(job.TenantId)) : 0;
}
