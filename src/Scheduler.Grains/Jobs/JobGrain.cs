using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Scheduler.Abstractions.Jobs;
using Scheduler.Abstractions.Placement;

namespace Scheduler.Grains.Jobs;

/// <summary>
/// One job's record, as its owner and the admin API ask for it. It holds nothing of its own and is on no job's path:
/// the journal is the record (<see cref="IJobJournal"/>). While the job is unfinished its journal entry says what was
/// asked and its placement says where the job is (<see cref="IPlacementGrain.Describe"/>); once it ended, whoever ended
/// it settled it (<see cref="JobSettlement"/>), replacing the entry by the settled record in one step. Until
/// 2026-12-04 every job activated its record twice — told of its admission, then of its outcome, which it wrote and
/// settled — and that was a third of a job's CPU (issue 12, step 11).
/// </summary>
/// <remarks>Collected after <see cref="IdleMinutes"/> idle, not Orleans' default 15: a record is asked for around its
/// job's run and rarely after.</remarks>
[CollectionAgeLimit(Minutes = IdleMinutes)]
internal sealed partial class JobGrain(
    IJobJournal journal,
    JobSettlement settlement,
    GrainReferences references,
    IOptions<PlacementOptions> options,
    TimeProvider time,
    ILogger<JobGrain> logger) : Grain, IJobGrain
{
    /// <summary>How long an idle record stays activated (the collector runs every minute, so up to one more).</summary>
    internal const int IdleMinutes = 2;

    /// <summary>How many times a cancellation asks the placement for a journaled job it does not hold, and the pause
    /// between asks: together longer than an end written again after a refused write takes to land
    /// (<see cref="JobSettlement.RetryPeriod"/>) and than a submission's enqueue repeated after a silo failure
    /// (<see cref="SiloFailures.RetryDelay"/>).</summary>
    internal const int NotHeldAttempts = 10;

    internal static readonly TimeSpan NotHeldPause = TimeSpan.FromMilliseconds(250);

    // A settled record never changes: kept once read, where reading it costs a round trip (Redis), until its retention
    // is over. The silo's memory is read each time instead: it may drop a record before then (its count bound).
    private SettledJob? _settled;

    private string JobId => this.GetPrimaryKeyString();

    /// <summary>The job's settled record, or its ticket while it is unfinished; neither when there is no such job (or
    /// its record is past its retention). A job settles by replacing its journal entry with its record in one step, so
    /// a job not found unfinished has settled, or never was.</summary>
    private async ValueTask<(SettledJob? Settled, JobTicket? Unfinished)> Find()
    {
        if (_settled is { } kept && !kept.IsExpired(time.GetUtcNow(), options.Value.JobRetention))
        {
            return (kept, null);
        }

        _settled = null;
        if (await journal.Find(JobId) is { } ticket)
        {
            return (null, ticket);
        }

        return (Keep(await journal.FindSettled(JobId)), null);
    }

    private SettledJob? Keep(SettledJob? settled)
    {
        if (journal.OutlivesSilo)
        {
            _settled = settled;
        }

        return settled;
    }

    public async Task<JobSnapshot?> Get() => await Find() switch
    {
        (_, { } ticket) => await Unfinished(ticket),
        (var settled, _) => settled?.Snapshot(),
    };

    /// <summary>An unfinished job as its placement holds it. One it does not hold is on its way there (just accepted),
    /// or ended a moment ago and is being settled, or waits for its placement to be rebuilt after a failover: it shows
    /// as queued unless its record has settled meanwhile.</summary>
    private async Task<JobSnapshot> Unfinished(JobTicket ticket)
    {
        if (await references.Placement(ticket.Request.Model).Describe(ticket.JobId) is { } live)
        {
            return JobSnapshot.Queued(live.Ticket) with { Status = live.Status, Placement = live.Placement, CancelRequested = live.CancelRequested };
        }

        if (Keep(await journal.FindSettled(ticket.JobId)) is { } settled)
        {
            return settled.Snapshot();
        }

        return JobSnapshot.Queued(ticket);
    }

    public async Task EnsureQueued()
    {
        if (await Find() is not (_, { } ticket))
        {
            return;
        }

        // Only a job its placement does not hold can be missing from its queue; the placement also refuses a job it
        // saw finish, which may still be journaled (ModelPlacement.Enqueue).
        var placement = references.Placement(ticket.Request.Model);
        if (await placement.Describe(JobId) is null)
        {
            await journal.Add(ticket);
            await placement.Enqueue(ticket);
        }
    }

    public async Task<JobExplanation?> Explain()
    {
        switch (await Find())
        {
            case (_, { } ticket):
                var live = await references.Placement(ticket.Request.Model).Explain(JobId);
                var job = await Unfinished(ticket);
                return job.IsTerminal && await journal.FindSettled(JobId) is { } ended
                    ? new JobExplanation(job, ended.Trace, null)
                    : new JobExplanation(job, live?.Events ?? [], live?.QueuePosition);
            case ({ } settled, _):
                return new JobExplanation(settled.Snapshot(), settled.Trace, null);
            default:
                return null;
        }
    }

    public async Task<JobSnapshot?> Cancel()
    {
        var (settled, ticket) = await Find();
        if (ticket is null)
        {
            return settled?.Snapshot();
        }

        var placement = references.Placement(ticket.Request.Model);
        for (var attempt = 1; ; attempt++)
        {
            var result = await placement.Cancel(JobId);
            switch (result.Outcome)
            {
                case CancelOutcome.CancelledWhileQueued or CancelOutcome.CancelledWhileRequeued:
                    // Taken out of its queue: nothing runs it. Its placement settles it and tells its watchers; the
                    // record settles it too, to answer with the end once it is written (the first end written wins: the
                    // same end, or one that came meanwhile). A placement from before 2026-12-06 (a rolling upgrade)
                    // settles nothing and hands the watchers here, told once the record holds the end.
                    var cancelled = SettledJob.Of(ticket, result.Placement, JobOutcome.CancelledInQueue(ticket, time.GetUtcNow()), null);
                    var record = result.End is { } end
                        ? await settlement.SettleThenTell(cancelled, result.Watchers, end)
                        : await settlement.Settle(cancelled);
                    return (record ?? cancelled).Snapshot();
                case CancelOutcome.CancellationRequested:
                    // A running job finishes as cancelled when its node confirms; until then its placement shows it as
                    // cancelling.
                    return await Unfinished(ticket);
            }

            // Journaled, yet its placement does not hold it: it ended a moment ago and its end is being written (a
            // node link tells the placement before its write lands), or it is on its way to its queue (accepted, or
            // resubmitted, its placement's Enqueue not there yet). Answering with its journaled status, QUEUED, did
            // nothing, and such a job could then run (an outside probe: 7 cancellations answered QUEUED during a
            // silo's SIGKILL under a cancellation storm). Its end, or the placement holding it, comes within moments.
            if (Keep(await journal.FindSettled(JobId)) is { } ended)
            {
                return ended.Snapshot();
            }

            if (attempt == NotHeldAttempts)
            {
                return await CancelNotHeld();
            }

            await Task.Delay(NotHeldPause, time);
        }
    }

    /// <summary>Cancels a job no placement held for <see cref="NotHeldAttempts"/> asks: none ever will but one rebuilt
    /// after a failover, from its journal entry, which settling it removes. So nothing runs it.</summary>
    private async Task<JobSnapshot?> CancelNotHeld()
    {
        // Settled, or taken out of the journal without an end (its submission was shed), meanwhile.
        var (settled, ticket) = await Find();
        if (ticket is null)
        {
            return settled?.Snapshot();
        }

        LogCancelledNotHeld(logger, JobId, ticket.Request.Model, NotHeldPause * (NotHeldAttempts - 1));
        var now = time.GetUtcNow();
        var cancelled = SettledJob.Of(ticket, null, JobOutcome.CancelledInQueue(ticket, now), null);
        var end = JobEventRecord.Terminal(JobId, JobStatus.Cancelled, now, usage: null, finishReason: null, error: null);
        return (await settlement.SettleThenTell(cancelled, ticket.Watchers, end) ?? cancelled).Snapshot();
    }

    public async Task<WatchResult> Watch(IJobEventSink sink, int fromToken)
    {
        var (settled, ticket) = await Find();
        if (ticket is null)
        {
            return new WatchResult(settled?.Snapshot(), Attached: false);
        }

        // Not attached means the job ended between our look and the placement's: its record is settling, so the
        // caller waits for it.
        var attached = await references.Placement(ticket.Request.Model).Attach(JobId, sink, fromToken);
        return new WatchResult(await Unfinished(ticket), attached);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} was cancelled while journaled but held by no placement of model {Model} for {Waited}: settled cancelled, so no rebuilt placement queues it again")]
    private static partial void LogCancelledNotHeld(ILogger logger, string jobId, string model, TimeSpan waited);
}
