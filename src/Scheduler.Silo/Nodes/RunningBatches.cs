using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Jobs;
using Scheduler.Abstractions.Placement;
using FinishReason = Scheduler.Abstractions.Jobs.FinishReason;
using JobStatus = Scheduler.Abstractions.Jobs.JobStatus;
using Proto = Scheduler.Protos.V1;

namespace Scheduler.Silo.Nodes;

/// <summary>
/// The running batches of one node's replicas as the silo knows them: which job runs on which replica, who watches
/// it, what it delivered and what it cost. It translates the node's step reports into what the cluster must hear
/// (<see cref="TranslatedStep"/>), trusting a report only as far as it matches what was admitted here, and makes no
/// call itself: the node link sends what it returns. Admissions and attachments come from the node's grain, reports
/// from the stream's read loop, hence the lock.
/// </summary>
internal sealed partial class RunningBatches(NodeRegistration node, ILogger logger)
{
    private static readonly TimeSpan CapacityReportInterval = TimeSpan.FromMilliseconds(250);

    private readonly Dictionary<string, ReplicaRegistration> _replicas = node.Replicas.ToDictionary(r => r.ReplicaId, StringComparer.Ordinal);
    private readonly Dictionary<string, RunningSequence> _running = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _lastCapacityReport = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private bool _closed;
    private bool _unknownReasonLogged;

    /// <summary>Takes jobs admitted to a replica; returns their admission events and the sequences to start, or null
    /// once the stream is closed.</summary>
    /// <remarks>A job already running on the same replica is not started again: its engine ignores a repeated admission
    /// and goes on with its run (RunningBatch.Screen), so this keeps the run too, with the repeat's watchers added. A
    /// placement rebuilt after its silo drained dispatched such repeats (the first admission was still on its way when
    /// it asked the node what it runs); a fresh run in its place took the engine's next tokens for a gap and dropped
    /// them all, and the job completed with only the tokens the fresh run expected: its clients got the end short of
    /// max_tokens.</remarks>
    public AdmittedBatch? Admit(AdmittedSequence[] batch, DateTimeOffset now)
    {
        var events = new EventBatch();
        var started = new List<AdmittedSequence>(batch.Length);
        lock (_gate)
        {
            if (_closed)
            {
                return null;
            }

            foreach (var seq in batch)
            {
                if (TryGetRunningOn(seq.Placement.ReplicaId, seq.Ticket.JobId, out var running))
                {
                    foreach (var sink in seq.Ticket.Watchers.Distinct().Where(w => !running.Sinks.Contains(w)))
                    {
                        running.Sinks.Add(sink);
                        Replay(events, running, sink, 0, now);
                    }

                    continue;
                }

                running = new RunningSequence(seq, now);
                _running[seq.Ticket.JobId] = running;
                started.Add(seq);
                events.Add(running.Sinks, new JobEventRecord(seq.Ticket.JobId, JobEventKind.Admitted, now, Placement: seq.Placement));

                // A resumed job's watchers may lack some of its earlier run's tokens: one that attached while it waited
                // to resume was told only its queue position. They come with the admission where the ticket carried them
                // (none for a job's first run); a stream that has them drops them by index.
                AddDelivered(events, running.Sinks, running, 0, now);
            }
        }

        return new AdmittedBatch(events, [.. started]);
    }

    /// <summary>Adds a watcher to a running job; returns what it missed from <paramref name="fromToken"/> on, or null
    /// if the job does not run here.</summary>
    public EventBatch? Attach(string jobId, IJobEventSink sink, int fromToken, DateTimeOffset now)
    {
        var events = new EventBatch();
        lock (_gate)
        {
            if (_closed || !_running.TryGetValue(jobId, out var running))
            {
                return null;
            }

            if (!running.Sinks.Contains(sink))
            {
                running.Sinks.Add(sink);
            }

            Replay(events, running, sink, fromToken, now);
        }

        return events;
    }

    /// <summary>What a watcher added to a running job missed: its admission and the tokens delivered from
    /// <paramref name="fromToken"/> on.</summary>
    private static void Replay(EventBatch events, RunningSequence running, IJobEventSink sink, int fromToken, DateTimeOffset now)
    {
        IJobEventSink[] only = [sink];
        events.Add(only, new JobEventRecord(running.Ticket.JobId, JobEventKind.Admitted, now, Placement: running.Admitted.Placement));
        AddDelivered(events, only, running, fromToken, now);
    }

    /// <summary>The tokens delivered from <paramref name="fromToken"/> on, one event per token, wherever this run knows
    /// their text (an earlier run's included): a watcher re-attaching after a failover may have fewer tokens than that
    /// run delivered, and tokens past a gap wait for it.</summary>
    private static void AddDelivered(EventBatch events, IReadOnlyList<IJobEventSink> sinks, RunningSequence running, int fromToken, DateTimeOffset now)
    {
        // One event per token: the silo's other streams of this job may already have handed the sink's streams some of
        // these tokens live, and a subscription drops exactly those only if no replayed event straddles them (a
        // straddling chunk would be delivered whole: duplicated tokens).
        for (var token = Math.Max(fromToken, running.FirstKnownToken); token < running.NextToken; token++)
        {
            events.Add(sinks, new JobEventRecord(running.Ticket.JobId, JobEventKind.Tokens, now, token, running.TokenText(token), 1));
        }
    }

    /// <summary>The jobs of <paramref name="model"/> running here.</summary>
    public RunningJob[] Running(string model)
    {
        lock (_gate)
        {
            return [.. _running.Values
                .Where(r => r.Ticket.Request.Model == model)
                .Select(r => new RunningJob(r.Ticket.JobId, r.Admitted.Placement.ReplicaId))];
        }
    }

    /// <summary>Translates one step report; null if it names no replica of this node.</summary>
    public TranslatedStep? Translate(Proto.StepReport step, DateTimeOffset now)
    {
        if (!_replicas.TryGetValue(step.ReplicaId, out var replica))
        {
            return null;
        }

        var events = new EventBatch();
        var prefilled = new List<string>();
        var finished = new List<FinishedSequence>();
        var outcomes = new List<FinishedJob>();
        var refused = new List<RequeuedSequence>();
        var preempted = new List<RequeuedSequence>();
        lock (_gate)
        {
            // The step's hourly cost is shared by the sequences that produced a token in it. A node's clock is not
            // trusted to be sane: a NaN, infinite or negative step time would poison every job's and tenant's cost.
            var stepMs = double.IsFinite(step.StepMs) && step.StepMs > 0 ? step.StepMs : 0;
            var stepCost = replica.Profile.HourlyCostUsd(stepMs / 1000.0) / Math.Max(1, step.Tokens.Count);
            foreach (var tokens in step.Tokens)
            {
                // Tokens of a sequence this node was never given here, out of order, or beyond max_tokens are dropped.
                if (!TryGetRunningOn(step.ReplicaId, tokens.SequenceId, out var running) ||
                    !running.Append(tokens.FirstTokenIndex, tokens.Text, tokens.TokenCount))
                {
                    continue;
                }

                running.CostUsd += stepCost;
                if (running.FirstTokenAt is null)
                {
                    running.FirstTokenAt = now;
                    prefilled.Add(tokens.SequenceId);
                }

                events.Add(running.Sinks, new JobEventRecord(tokens.SequenceId, JobEventKind.Tokens, now, tokens.FirstTokenIndex, tokens.Text, tokens.TokenCount));
            }

            foreach (var done in step.Finished)
            {
                // A finish for another replica's sequence would free the wrong replica's reservation; a repeated one
                // finds nothing left to finish.
                if (!TryGetRunningOn(step.ReplicaId, done.SequenceId, out var running))
                {
                    continue;
                }

                _running.Remove(done.SequenceId);
                var reason = ReasonOf(done);
                if (reason == FinishReason.Preempted)
                {
                    // Stopped to make room, as the placement asked: it goes back to its queue from the tokens
                    // delivered, and its watchers hear nothing until it resumes.
                    preempted.Add(running.HandBack());
                    continue;
                }

                if (reason == FinishReason.Rejected)
                {
                    // The engine had no room after all, or failed it (an upstream's error, which it names): the job is
                    // not over, it goes back to its queue (from the tokens delivered, none unless the engine refused it
                    // late) and its watchers hear nothing.
                    refused.Add(running.HandBack(done.Error.Length > 0 ? done.Error : null));
                    continue;
                }

                if (reason is FinishReason.Length or FinishReason.Stop && done.CompletionTokens != running.NextToken)
                {
                    // The engine's count and the tokens taken here disagree: some were dropped (gaps, repeats, tokens of
                    // another run of the job), and the job's clients get its end with a different count than it made.
                    LogFinishedCountDisagrees(logger, node.NodeId, done.SequenceId, done.CompletionTokens, running.NextToken);
                }

                finished.Add(new FinishedSequence(done.SequenceId, done.CompletionTokens, reason));
                outcomes.Add(new FinishedJob(running.Admitted, Outcome(running, reason, done, replica, now), [.. running.Sinks]));
            }
        }

        return new TranslatedStep(replica, events, [.. prefilled], [.. finished], [.. refused], [.. outcomes], Capacity(step, now), [.. preempted],
            [.. step.EvictedPrefixBlocks]);
    }

    /// <summary>Closes the batches for good: every job still running is handed back, by replica, resuming after
    /// the tokens it delivered.</summary>
    public ReplicaHandBack[] Close()
    {
        List<RunningSequence> orphans;
        lock (_gate)
        {
            _closed = true;
            orphans = [.. _running.Values];
            _running.Clear();
        }

        return [.. orphans
            .GroupBy(o => o.Admitted.Placement.ReplicaId)
            .Select(group => new ReplicaHandBack(
                group.First().Ticket.Request.Model,
                group.Key,
                [.. group.Select(o => o.HandBack())]))];
    }

    private bool TryGetRunningOn(string replicaId, string sequenceId, out RunningSequence running) =>
        _running.TryGetValue(sequenceId, out running!) && running.Admitted.Placement.ReplicaId == replicaId;

    /// <summary>The reason as the silo carries it. A value this silo does not know is logged the first time only: a
    /// node that sends one sends it for every job.</summary>
    private FinishReason ReasonOf(Proto.SequenceFinished done)
    {
        var reason = done.Reason;
        switch (reason)
        {
            case Proto.FinishReason.Length: return FinishReason.Length;
            case Proto.FinishReason.Stop: return FinishReason.Stop;
            case Proto.FinishReason.Cancelled: return FinishReason.Cancelled;
            case Proto.FinishReason.Rejected: return FinishReason.Rejected;
            case Proto.FinishReason.Error: return FinishReason.Error;
            case Proto.FinishReason.Preempted: return FinishReason.Preempted;
#pragma warning disable CS0612 // A node from before the enum sends the reason as text (a rolling upgrade).
            case Proto.FinishReason.Unspecified when LegacyReason(done.LegacyReason) is { } legacy: return legacy;
#pragma warning restore CS0612
        }

        if (!_unknownReasonLogged)
        {
            _unknownReasonLogged = true;
            LogUnknownReason(logger, node.NodeId, reason);
        }

        return FinishReason.Unknown;
    }

    private static FinishReason? LegacyReason(string text) => text switch
    {
        "length" => FinishReason.Length,
        "stop" => FinishReason.Stop,
        "cancelled" => FinishReason.Cancelled,
        "rejected" => FinishReason.Rejected,
        _ => null,
    };

    private static JobOutcome Outcome(RunningSequence running, FinishReason reason, Proto.SequenceFinished done, ReplicaRegistration replica, DateTimeOffset now)
    {
        var ticket = running.Ticket;
        var submitted = ticket.SubmittedAt;

        // An engine with the model's own tokenizer reports the prompt's real length; others take the scheduler's count,
        // as does a count no prompt this replica accepts could have.
        var engineCounted = done.PromptTokens > 0 && done.PromptTokens <= replica.MaxContextTokens;
        var promptTokens = engineCounted ? done.PromptTokens : ticket.Request.PromptTokens;
        var cost = replica.Profile.IsMetered
            ? replica.Profile.MeteredCostUsd(promptTokens, running.NextToken - ticket.ResumeFromToken)
            : running.CostUsd;
        var usage = new JobUsage(
            promptTokens,
            running.NextToken,
            cost,
            (running.FirstAdmittedAt - submitted).TotalMilliseconds,
            ((running.JobFirstTokenAt ?? now) - submitted).TotalMilliseconds,
            (now - submitted).TotalMilliseconds,
            Math.Clamp(done.CachedPromptTokens, 0, promptTokens),
            engineCounted ? PromptTokenSource.Engine : PromptTokenSources.Of(ticket.Request));
        // A reason no engine sends is the node's bug: the job fails rather than passing it to the tenant as a success.
        // An engine's error is the tenant's to read, marked as the engine's so it is not taken for the scheduler's.
        var (status, finishReason, error) = reason switch
        {
            FinishReason.Length => (JobStatus.Completed, JobFinishReasons.Length, (string?)null),
            FinishReason.Stop => (JobStatus.Completed, JobFinishReasons.Stop, null),
            FinishReason.Cancelled => (JobStatus.Cancelled, JobFinishReasons.Cancelled, null),
            FinishReason.Error => (JobStatus.Failed, JobFinishReasons.Error, EngineFailures.Describe(done)),
            _ => (JobStatus.Failed, JobFinishReasons.Error, $"the node reported an unknown finish reason '{done.Reason}'"),
        };
        return new JobOutcome(status, finishReason, usage, running.Text, error, [.. running.TokenEnds]);
    }

    /// <summary>The replica's capacity to report, at most every <see cref="CapacityReportInterval"/> while it runs
    /// anything: SREs read it, no decision depends on it. An idle replica always reports.</summary>
    private EngineCapacity? Capacity(Proto.StepReport step, DateTimeOffset now)
    {
        var c = step.Capacity;
        if (c is null ||
            (c.RunningSequences > 0 && _lastCapacityReport.TryGetValue(step.ReplicaId, out var last) && now - last < CapacityReportInterval))
        {
            return null;
        }

        _lastCapacityReport[step.ReplicaId] = now;
        var decodes = c.DecodeCalls > 0 ? new DecodeCounters(c.DecodeCalls, c.DecodeSequences, c.PeakDecodeSequences, c.DecodeTokens, c.PeakDecodeTokens) : null;
        return new EngineCapacity(c.RunningSequences, c.KvTokensUsed, c.PeakSequences, c.PeakKvTokens, c.RejectedAdmissions, c.OutputTokensPerSecond, now, decodes);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Node {NodeId} finished job {JobId} at {EngineTokens} tokens, of which this link took {Taken}: its clients get its end with {Taken}")]
    private static partial void LogFinishedCountDisagrees(ILogger logger, string nodeId, string jobId, int engineTokens, int taken);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Node {NodeId} reported finish reason {Reason}, which this silo does not know: its jobs that end so fail (logged once per stream)")]
    private static partial void LogUnknownReason(ILogger logger, string nodeId, Proto.FinishReason reason);
}
