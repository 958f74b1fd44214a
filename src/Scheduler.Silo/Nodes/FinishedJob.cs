using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Jobs;
using Scheduler.Grains.Jobs;

namespace Scheduler.Silo.Nodes;

/// <summary>A job its engine finished: its admission (the ticket, where it ran and its placement's trace), its outcome,
/// and the watchers to tell once it settled.</summary>
internal sealed record FinishedJob(AdmittedSequence Admitted, JobOutcome Outcome, IJobEventSink[] Watchers)
{
    public JobTicket Ticket => Admitted.Ticket;

    /// <summary>The job's record, as it settles.</summary>
    public SettledJob Record() => SettledJob.Of(Admitted.Ticket, Admitted.Placement, Outcome, Admitted.Trace);
}
