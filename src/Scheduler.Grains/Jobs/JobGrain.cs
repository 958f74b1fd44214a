using Microsoft.Extensions.Logging;
using Scheduler.Abstractions.Jobs;
using Scheduler.Abstractions.Placement;
using Scheduler.Abstractions.Tenants;

namespace Scheduler.Grains.Jobs;

/// <summary>
/// One job's record. Called a handful of times per job (admitted, finish, lookups), never per token. Not created when
/// the job is accepted: the tenant journals and queues the job, and until the record first activates — usually on the
/// placement's admission notice — the journal entry is the record (durable where the journal is Redis); the record then
/// takes the ticket from the journal. Notices are one-way and unordered, so the admission and even the outcome may
/// arrive in any order: whatever arrives is kept. The outcome is written (Redis) before the job settles and leaves the
/// journal; where storage is the silo's memory the record is written once, when the activation goes
/// (<see cref="Persist"/>).
/// </summary>
/// <remarks>Collected after <see cref="IdleMinutes"/> idle, not Orleans' default 15: a record is called a handful of
/// times around its job's run and rarely after, and every job has one, so the default kept 15 minutes of jobs
/// activated — about 6.5 KB each with their prompts and outputs (2026-12-04: 528 MB live after 82,000 bench jobs),
/// several GB at a sustained thousand jobs a second. A record asked for later activates again from storage.</remarks>
[CollectionAgeLimit(Minutes = IdleMinutes)]
internal sealed partial class JobGrain(
    [PersistentState("job", StorageNames.Default)] IPersistentState<JobState> state,
    IJobJournal journal,
    IJobIndex index,
    GrainReferences references,
    IEnumerable<IJobOutcomeObserver> observers,
    ILogger<JobGrain> logger) : Grain, IJobGrain
{
    /// <summary>How long an idle record stays activated (the collector runs every minute, so up to one more).</summary>
    internal const int IdleMinutes = 2;

    /// <summary>How long a running job's record stays activated however idle: its admission (placement, trace) is
    /// written only with the outcome in Redis mode, and a job may run for longer than <see cref="IdleMinutes"/> between
    /// its two calls. Released when the job settles.</summary>
    internal static readonly TimeSpan RunningKeepAlive = TimeSpan.FromHours(24);

    /// <summary>How often an outcome that storage refused (a Redis outage) is written again.</summary>
    internal static readonly TimeSpan RecordRetryPeriod = TimeSpan.FromSeconds(1);

    // Set while an outcome is known here but not yet durable and settled: the timer writes it until storage takes it.
    private IGrainTimer? _recordRetry;

    // Where storage is the silo's memory: the activation holds a change its storage lacks, written when it goes.
    private bool _unwritten;

    /// <summary>An unfinished job's record is its journal entry until the record first activates (the tenant journals
    /// and queues a job; it does not create its record). The placement's admission notice brings the ticket; any other
    /// call that needs it first takes it from the journal (<see cref="IJobJournal.Find"/>), also on a later call if this
    /// activation came before the job was journaled (a lookup racing the submission). False while there is no ticket.</summary>
    private async ValueTask<bool> AdoptJournaledTicket()
    {
        var s = state.State;
        if (s.Ticket is null && await journal.Find(this.GetPrimaryKeyString()) is { } ticket)
        {
            Adopt(ticket);
        }

        return s.Ticket is not null;
    }

    private void Adopt(JobTicket ticket)
    {
        if (state.State.Ticket is null)
        {
            state.State.Ticket = ticket;

            // Where storage is the silo's memory the activation holds the only copy once the job settles.
            _unwritten = !journal.OutlivesSilo;
        }
    }

    /// <summary>
    /// Makes the record's latest change outlive this activation. Where storage outlives the silo (Redis) that is a write
    /// now: a job is acknowledged, and its outcome settled, only once durable. Where storage is the silo's memory, a
    /// write buys nothing the activation does not already hold — both end with the process — while a job's two writes
    /// (each a serialization and a call to the storage grain) cost it about 18 KB and a tenth of its CPU: the
    /// activation keeps the record and writes it once, when it is deactivated (collected when idle), so the record can
    /// still be read after that.
    /// </summary>
    private Task Persist()
    {
        if (journal.OutlivesSilo)
        {
            return state.WriteOwnedStateAsync();
        }

        _unwritten = true;
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        // A silo shutting down with its state in memory has nowhere to write it: the storage grains go with it.
        if (!_unwritten || reason.ReasonCode == DeactivationReasonCode.ShuttingDown)
        {
            return;
        }

        try
        {
            await state.WriteOwnedStateAsync();
        }
        catch (Exception ex)
        {
            // Nothing is left to write it later: say which record is gone.
            LogRecordLost(logger, ex, this.GetPrimaryKeyString(), state.State.Status, reason.ReasonCode);
        }
    }

    public async Task<JobSnapshot?> Get()
    {
        if (!await AdoptJournaledTicket() && state.State is { Outcome: null, Placement: null })
        {
            // Nothing here: while the cluster recovers from a silo failure this may be a second activation that read
            // storage before the record was written. It goes, so the next call reads storage afresh.
            this.DeactivateOnIdle();
        }

        return Snapshot();
    }

    public async Task EnsureQueued()
    {
        // Only a job never admitted can be missing from its queue; a running one is held by its placement.
        if (await AdoptJournaledTicket() && state.State is { Ticket: { } ticket, Outcome: null, Status: JobStatus.Queued })
        {
            await journal.Add(ticket);
            await references.Placement(ticket.Request.Model).Enqueue(ticket);
        }
    }

    public async Task OnAdmitted(JobTicket ticket, JobPlacement placement, JobTraceEvent[] trace)
    {
        // One-way messages are not ordered: the admission may arrive after the outcome, so it is kept whenever
        // the record has no placement yet, and it moves only a queued job to running. Each admission's trace holds
        // the one before it. The ticket comes with it: no journal read for the record's usual first activation.
        var s = state.State;
        Adopt(ticket);
        s.Trace = trace;

        if (s.Placement is not null)
        {
            return;
        }

        s.Placement = placement;
        if (s.Status == JobStatus.Queued)
        {
            s.Status = JobStatus.Running;
            DelayDeactivation(RunningKeepAlive);
        }
        else
        {
            // Already terminal and recorded: persist the late placement so the record stays complete.
            await Persist();
        }
    }

    public Task Finish(JobOutcome outcome) => Record(outcome);

    private async Task Record(JobOutcome outcome)
    {
        var s = state.State;
        if (s.Outcome is not null)
        {
            return;
        }

        s.Outcome = outcome;
        s.Status = outcome.Status;
        await WriteAndSettle();
    }

    /// <summary>
    /// Makes the outcome durable and settles it. The engine is done with the job and its client is told the end
    /// either way; an outcome that storage refuses (Redis unreachable) must not be dropped, or the job would stay in
    /// its model's journal and run again after a failover. So the record keeps it, stays active, and writes it again
    /// every <see cref="RecordRetryPeriod"/> until storage is back. Both steps are idempotent.
    /// </summary>
    private async Task WriteAndSettle()
    {
        var jobId = this.GetPrimaryKeyString();
        try
        {
            if (!await AdoptJournaledTicket())
            {
                // Not a job that was accepted (it was never journaled): nothing to settle.
                _recordRetry?.Dispose();
                _recordRetry = null;
                return;
            }

            await Persist();
            await Settle(state.State.Outcome!);

            // Settled: the record is collected once idle, like any other (a negative delay cancels the keep-alive).
            DelayDeactivation(TimeSpan.FromTicks(-1));
            if (_recordRetry is not null)
            {
                LogOutcomeRecordedLate(logger, jobId, state.State.Status);
                _recordRetry.Dispose();
                _recordRetry = null;
            }
        }
        catch (Exception ex) when (_recordRetry is null)
        {
            LogOutcomeNotRecorded(logger, ex, jobId, state.State.Status, RecordRetryPeriod);
            _recordRetry = this.RegisterGrainTimer(
                _ => WriteAndSettle(),
                new GrainTimerCreationOptions { DueTime = RecordRetryPeriod, Period = RecordRetryPeriod, KeepAlive = true });
        }
        catch (Exception)
        {
            // Still refused: the timer tries again.
        }
    }

    public Task OnHandedBack(int handBacks, string error)
    {
        // One-way messages are not ordered: an older hand-back arriving late must not hide a newer one. The last one
        // may come with the outcome it caused (the job failed of it). Not written: it is the placement's count, told
        // again at the next hand-back, and an outcome it caused carries its error and count in the outcome's error.
        var s = state.State;
        if (handBacks > s.HandBacks)
        {
            s.HandBacks = handBacks;
            s.LastHandBackError = error;
        }

        return Task.CompletedTask;
    }

    // The placement ends a job only while it holds it queued: expired before it ran, or failed after its hand-backs.
    public async Task EndInQueue(JobOutcome outcome, IJobEventSink[] watchers, JobEventRecord announcement, JobTraceEvent[] trace)
    {
        state.State.Trace = trace;
        await Record(outcome);
        foreach (var watcher in watchers)
        {
            watcher.OnEvents([announcement]).Ignore();
        }
    }

    public async Task<JobExplanation?> Explain() =>
        await AdoptJournaledTicket() && Snapshot() is { } job ? new JobExplanation(job, state.State.Trace ?? [], null) : null;

    public async Task<JobSnapshot?> Cancel()
    {
        var s = state.State;
        if (!await AdoptJournaledTicket() || s.Outcome is not null)
        {
            return Snapshot();
        }

        var result = await references.Placement(s.Ticket!.Request.Model).Cancel(this.GetPrimaryKeyString());
        if (result is CancelOutcome.CancelledWhileQueued or CancelOutcome.CancelledWhileRequeued)
        {
            // Cancelled in the queue: nothing is running.
            var usage = new JobUsage(0, 0, 0, 0, 0, 0);
            await Record(new JobOutcome(JobStatus.Cancelled, JobFinishReasons.Cancelled, usage, string.Empty, null, []));
        }
        else if (result == CancelOutcome.CancellationRequested && !s.CancelRequested)
        {
            // A running job finishes as cancelled when its node confirms; until then it shows as cancelling. Kept with
            // the record, so the answer holds for as long as the job runs.
            s.CancelRequested = true;
            await Persist();
        }

        return Snapshot();
    }

    public async Task<WatchResult> Watch(IJobEventSink sink, int fromToken)
    {
        var s = state.State;
        if (!await AdoptJournaledTicket() || s.Outcome is not null)
        {
            return new WatchResult(Snapshot(), Attached: false);
        }

        // Not attached means the job finished between our check and the placement's: its outcome is on its
        // way here, so the caller waits for the terminal record.
        var attached = await references.Placement(s.Ticket!.Request.Model).Attach(this.GetPrimaryKeyString(), sink, fromToken);
        return new WatchResult(Snapshot(), attached);
    }

    /// <summary>A recorded outcome is final: the tenant counts it, the job leaves the journal, its index entry takes its
    /// status, and the metrics count it.</summary>
    private async Task Settle(JobOutcome outcome)
    {
        var ticket = state.State.Ticket!;
        await Task.WhenAll(journal.Remove(ticket.Request.Model, ticket.JobId), index.Settle(JobIndexEntry.Of(ticket, outcome.Status)));
        await references.Tenant(ticket.TenantId).OnFinished(ticket.JobId, outcome);
        foreach (var observer in observers)
        {
            observer.Settled(ticket, state.State.Placement, outcome);
        }
    }

    private JobSnapshot? Snapshot()
    {
        var s = state.State;
        if (s.Ticket is not { } t)
        {
            return null;
        }

        return JobSnapshot.Queued(t) with
        {
            Status = s.Status,
            Placement = s.Placement,
            Usage = s.Outcome?.Usage,
            Output = s.Outcome?.Output,
            Error = s.Outcome?.Error,
            FinishReason = s.Outcome?.FinishReason,
            TokenEnds = s.Outcome?.TokenEnds,
            CancelRequested = s.CancelRequested && s.Outcome is null,
            HandBacks = s.HandBacks,
            LastHandBackError = s.LastHandBackError,
        };
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} ended {Status} but its record could not be written; kept here and written again every {Period}")]
    private static partial void LogOutcomeNotRecorded(ILogger logger, Exception ex, string jobId, JobStatus status, TimeSpan period);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {JobId} ({Status}): its record could not be written as its activation went ({Reason}); it is lost")]
    private static partial void LogRecordLost(ILogger logger, Exception ex, string jobId, JobStatus status, DeactivationReasonCode reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: its outcome {Status} is recorded, late")]
    private static partial void LogOutcomeRecordedLate(ILogger logger, string jobId, JobStatus status);
}
