using Scheduler.Abstractions.Jobs;

namespace Scheduler.Grains.Jobs;

/// <summary>
/// Hears of each job's end once, on the silo that settles it: <see cref="JobSettlement"/> is the one place every way a
/// job ends passes through (run to the end on a node, failed, cancelled in the queue or while running, expired in the
/// queue by its placement), and only the first end recorded settles a job, so counting here counts each job exactly
/// once cluster-wide, as the tenant's usage (what the admin API shows) does.
/// </summary>
public interface IJobOutcomeObserver
{
    /// <param name="ticket">The job as accepted.</param>
    /// <param name="placement">Where it ran last; null if it never ran.</param>
    /// <param name="outcome">How it ended, as recorded.</param>
    void Settled(JobTicket ticket, JobPlacement? placement, JobOutcome outcome);
}
