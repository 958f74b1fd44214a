using Scheduler.Abstractions.Jobs;

namespace Scheduler.Silo.Nodes;

/// <summary>A job its engine finished: the outcome for its record, and the watchers to tell once it is recorded.</summary>
internal sealed record FinishedJob(JobTicket Ticket, JobOutcome Outcome, IJobEventSink[] Watchers);
