using Scheduler.Abstractions.Jobs;
using Scheduler.Abstractions.Placement;
using Scheduler.Grains;
using Scheduler.Grains.Jobs;

namespace Scheduler.Silo.Telemetry;

/// <summary>Feeds each model's <see cref="ITtftWindowGrain"/>, which the admin API's models listing (and so
/// <c>schedctl top</c>) reads as TTFT-objective attainment over the last minute. A job counts once it got its first
/// token, met or not; one that expired in the queue counts as missed; one cancelled or failed before its first token
/// does not count.</summary>
internal sealed class TtftAttainmentRecorder(GrainReferences references, TimeProvider time) : IJobOutcomeObserver
{
    public void Settled(JobTicket ticket, JobPlacement? placement, JobOutcome outcome)
    {
        var u = outcome.Usage;
        bool met;
        if (u.CompletionTokens > 0)
        {
            met = u.TtftMs <= ticket.Request.TtftObjectiveMs;
        }
        else if (outcome.Status == JobStatus.Expired)
        {
            met = false;
        }
        else
        {
            return;
        }

        // One way: the job's record does not wait for a statistic.
        references.TtftWindow(ticket.Request.Model).Record(time.GetUtcNow(), met).Ignore();
    }
}
