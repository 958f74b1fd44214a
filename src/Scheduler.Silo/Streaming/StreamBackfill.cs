using Scheduler.Abstractions.Jobs;

namespace Scheduler.Silo.Streaming;

/// <summary>
/// Watches one client stream for events that never come. A job's events reach this silo's hub as one-way grain
/// calls, and while the cluster changes (a silo died and its share of the grain directory is moving) such a call can
/// be dropped. The stream would then wait until its deadline: for a token behind which the subscription holds the
/// job's end, for an end that was itself lost, or for the admission its tokens wait behind. So when the end came
/// without all its tokens, tokens came without their admission, or the stream has heard nothing for a while, this
/// reads the job's record: the record's placement stands in for a missing admission, and once the job is finished the
/// record completes the stream (tokens the client already has are dropped by the subscription as usual).
/// </summary>
internal sealed partial class StreamBackfill(TimeProvider time, ILogger<StreamBackfill> logger)
{
    // How often the stream is looked at. The end follows its last tokens in the same message from the same sender, and
    // the admission comes a moment before the first tokens, so an end or tokens still waiting a tick later miss them.
    internal static readonly TimeSpan Tick = TimeSpan.FromSeconds(1);

    // A stream that heard nothing for this long asks the record: one grain call per quiet stream per interval
    // (a job waiting in a long queue costs that much, nothing more).
    internal static readonly TimeSpan QuietInterval = TimeSpan.FromSeconds(5);

    /// <summary>Runs until the stream has the job's end (its own or the record's) or <paramref name="cancellationToken"/> ends it.
    /// <paramref name="record"/> gives the record's grain, asked for only when the stream needs it: almost no stream
    /// does, and a job's grain reference made per stream was 1.7 % of a job's CPU (docs/benchmarks.md, step 11).</summary>
    public async Task WatchAsync(JobSubscription subscription, Func<IJobGrain> record, CancellationToken cancellationToken)
    {
        IJobGrain? job = null;
        var posted = subscription.Posted;
        var quietSince = time.GetUtcNow();
        while (true)
        {
            await Task.Delay(Tick, time, cancellationToken);
            if (subscription.Ended)
            {
                // A client that reads slowly (or not at all) still has the end to read: the stream is quiet because its
                // writes wait, not because an event was lost. Asked, the record "completed" it with nothing and warned
                // that it had missed events (200 unread streams, 200 such warnings: a live probe).
                return;
            }

            var now = time.GetUtcNow();
            if (subscription.Posted != posted)
            {
                posted = subscription.Posted;
                quietSince = now;
            }

            var waitingForAdmission = subscription.WaitingForAdmission;
            if (!subscription.WaitingForTokens && !waitingForAdmission && now - quietSince < QuietInterval)
            {
                continue;
            }

            quietSince = now;
            JobSnapshot? snapshot;
            try
            {
                snapshot = await (job ??= record()).Get();
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                // The record's silo may be the one failing: ask again next interval. That includes an
                // OperationCanceledException: Orleans cancels a call it cannot address while the cluster changes, and
                // only this watch's own token ends the watch (ending it on the runtime's left a client waiting for an
                // end that was lost: the two-silos-lost fault test, ci35 of 2026-12-04).
                LogRecordUnavailable(logger, ex, subscription.JobId);
                continue;
            }

            if (snapshot is { IsTerminal: true })
            {
                var from = subscription.NextToken;
                subscription.ReplayRecord(snapshot, from, now, withAdmission: false);
                LogFilled(logger, subscription.JobId, snapshot.Status, from, Math.Max(0, (snapshot.Usage?.CompletionTokens ?? 0) - from));
                return;
            }

            if (waitingForAdmission && snapshot?.Placement is not null && subscription.WaitingForAdmission)
            {
                subscription.AdmitFromRecord(snapshot, now);
                LogAdmittedFromRecord(logger, subscription.JobId, snapshot.Placement.ReplicaId);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stream of job {JobId} missed events: completed from its record ({Status}; {Missing} tokens from token {From})")]
    private static partial void LogFilled(ILogger logger, string jobId, JobStatus status, int from, int missing);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stream of job {JobId} had tokens but no admission: admitted from its record (replica {ReplicaId})")]
    private static partial void LogAdmittedFromRecord(ILogger logger, string jobId, string replicaId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Record of job {JobId} unavailable while checking its quiet stream")]
    private static partial void LogRecordUnavailable(ILogger logger, Exception ex, string jobId);
}
