using System.Threading.Channels;
using Grpc.Core;
using Grpc.Net.Client;
using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Jobs;
using Scheduler.Abstractions.Placement;
using Scheduler.Grains;
using Scheduler.Grains.Nodes;
using Scheduler.Protos.V1;
using JobStatus = Scheduler.Abstractions.Jobs.JobStatus;
using Scheduler.Silo.Telemetry;

namespace Scheduler.Silo.Nodes;

/// <summary>
/// The execution stream to one worker node. Per engine step the node sends one report; this turns it into job
/// events — one call per destination silo — plus one progress call to the replica's placement when sequences got
/// their first token or finished. A finished job's end goes to its watchers once its record holds the outcome. When
/// the stream breaks, every running job goes back to its placement with the
/// count of tokens already delivered, so it resumes elsewhere without repeating or skipping a token.
/// </summary>
internal sealed partial class GrpcNodeLink : INodeLink
{
    private static readonly TimeSpan CapacityReportInterval = TimeSpan.FromMilliseconds(250);

    // The finish reason of a sequence the engine refused at admission (the worker's FinishReasons.Rejected).
    private const string RejectedReason = "rejected";

    private readonly NodeRegistration _node;
    private readonly string _nodeToken;
    private readonly IGrainFactory _grains;
    private readonly SchedulerTelemetry _telemetry;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Dictionary<string, ReplicaRegistration> _replicas;
    private readonly Dictionary<string, RunningSequence> _running = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _lastCapacityReport = new(StringComparer.Ordinal);
    private readonly Channel<ExecuteCommand> _outgoing = Channel.CreateUnbounded<ExecuteCommand>(new() { SingleReader = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly GrpcChannel _channel;
    private Task _run = Task.CompletedTask;
    private bool _closed;

    public GrpcNodeLink(NodeRegistration node, string nodeToken, IGrainFactory grains, SchedulerTelemetry telemetry, TimeProvider time, ILogger logger)
    {
        _node = node;
        _nodeToken = nodeToken;
        _grains = grains;
        _telemetry = telemetry;
        _time = time;
        _logger = logger;
        _replicas = node.Replicas.ToDictionary(r => r.ReplicaId, StringComparer.Ordinal);
        _channel = GrpcChannel.ForAddress(node.Address);
    }

    public string LinkId { get; } = Guid.NewGuid().ToString("N");

    public void Start() => _run = Task.Run(RunAsync);

    public bool Admit(string replicaId, AdmittedSequence[] batch)
    {
        var now = _time.GetUtcNow();
        var admit = new AdmitBatch { ReplicaId = replicaId };
        var events = new EventBatch();
        lock (_gate)
        {
            if (_closed)
            {
                return false;
            }

            foreach (var seq in batch)
            {
                var running = new RunningSequence(seq, now);
                _running[seq.Ticket.JobId] = running;
                events.Add(running.Sinks, new JobEventRecord(seq.Ticket.JobId, JobEventKind.Admitted, now, Placement: seq.Placement));
                admit.Sequences.Add(ToSpec(seq.Ticket));
            }

            _outgoing.Writer.TryWrite(new ExecuteCommand { Admit = admit });
        }

        events.Send();
        return true;
    }

    public void Cancel(string replicaId, string[] jobIds)
    {
        var cancel = new CancelSequences { ReplicaId = replicaId };
        cancel.SequenceIds.AddRange(jobIds);
        _outgoing.Writer.TryWrite(new ExecuteCommand { Cancel = cancel });
    }

    public bool Attach(string jobId, IJobEventSink sink, int fromToken)
    {
        var now = _time.GetUtcNow();
        var events = new EventBatch();
        lock (_gate)
        {
            if (_closed || !_running.TryGetValue(jobId, out var running))
            {
                return false;
            }

            if (!running.Sinks.Contains(sink))
            {
                running.Sinks.Add(sink);
            }

            // Replay what the watcher missed, one event per token: the silo's other streams of this job may already
            // have handed it some of these tokens live, and its subscription can drop exactly those only if no
            // replayed event straddles them (a straddling chunk would be delivered whole: duplicated tokens).
            IJobEventSink[] only = [sink];
            events.Add(only, new JobEventRecord(jobId, JobEventKind.Admitted, now, Placement: running.Admitted.Placement));
            for (var token = Math.Max(fromToken, running.Ticket.ResumeFromToken); token < running.NextToken; token++)
            {
                events.Add(only, new JobEventRecord(jobId, JobEventKind.Tokens, now, token, running.TokenText(token), 1));
            }
        }

        events.Send();
        return true;
    }

    public RunningJob[] Running(string model)
    {
        lock (_gate)
        {
            return [.. _running.Values
                .Where(r => r.Ticket.Request.Model == model)
                .Select(r => new RunningJob(r.Ticket.JobId, r.Admitted.Placement.ReplicaId))];
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _run;
        }
        catch (OperationCanceledException)
        {
            // Expected: we stopped it.
        }

        _channel.Dispose();
        _stop.Dispose();
    }

    private async Task RunAsync()
    {
        var lostUnexpectedly = false;
        try
        {
            var client = new WorkerService.WorkerServiceClient(_channel);
            var headers = new Metadata { { "authorization", "Bearer " + _nodeToken } };
            using var call = client.Execute(headers, cancellationToken: _stop.Token);
            var writer = WriteLoop(call.RequestStream, _stop.Token);
            await foreach (var e in call.ResponseStream.ReadAllAsync(_stop.Token))
            {
                if (e.Step is { } step)
                {
                    OnStep(step);
                }
            }

            lostUnexpectedly = !_stop.IsCancellationRequested;
            await writer;
        }
        catch (Exception ex) when (!_stop.IsCancellationRequested)
        {
            LogStreamBroke(_logger, ex, _node.NodeId);
            lostUnexpectedly = true;
        }
        catch (OperationCanceledException)
        {
            // Closed by our owner.
        }
        catch (RpcException)
        {
            // Cancelled by our owner while a call was in flight.
        }
        finally
        {
            HandBackRunningJobs(lostUnexpectedly);
        }

        if (lostUnexpectedly)
        {
            await _grains.GetGrain<IWorkerNodeGrain>(_node.NodeId).LinkLost(LinkId);
        }
    }

    private async Task WriteLoop(IClientStreamWriter<ExecuteCommand> requests, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var command in _outgoing.Reader.ReadAllAsync(cancellationToken))
            {
                await requests.WriteAsync(command, cancellationToken);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or RpcException or InvalidOperationException)
        {
            // The read side notices the broken stream and hands the jobs back.
        }
    }

    private void OnStep(StepReport step)
    {
        if (!_replicas.TryGetValue(step.ReplicaId, out var replica))
        {
            return;
        }

        var now = _time.GetUtcNow();
        var events = new EventBatch();
        var prefilled = new List<string>();
        var finished = new List<FinishedSequence>();
        var outcomes = new List<(JobTicket Ticket, JobOutcome Outcome, string Product, IJobEventSink[] Sinks)>();
        var refused = new List<RequeuedSequence>();
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
                if (done.Reason == RejectedReason)
                {
                    // The engine had no room after all: the job is not over, it goes back to its queue (from the
                    // tokens delivered, none unless the engine refused it late) and its watchers hear nothing.
                    refused.Add(new RequeuedSequence(done.SequenceId, running.NextToken, running.Delivered));
                    continue;
                }

                finished.Add(new FinishedSequence(done.SequenceId, done.CompletionTokens, done.Reason));
                outcomes.Add((running.Ticket, Outcome(running, done, replica, now), replica.Profile.Product, [.. running.Sinks]));
            }
        }

        events.Send();
        if (prefilled.Count > 0 || finished.Count > 0)
        {
            _grains.GetGrain<IPlacementGrain>(replica.Model).OnProgress(replica.ReplicaId, [.. prefilled], [.. finished]).Ignore();
        }

        if (refused.Count > 0)
        {
            _grains.GetGrain<IPlacementGrain>(replica.Model).Requeue(replica.ReplicaId, LinkId, [.. refused], HandBack.Rejected).Ignore();
        }

        foreach (var (ticket, outcome, product, sinks) in outcomes)
        {
            RecordThenAnnounce(ticket.JobId, outcome, sinks, now).Ignore();
            _telemetry.JobFinished(ticket.TenantId, ticket.Request.Model, product, outcome);
        }

        ReportCapacity(step, now);
    }

    /// <summary>
    /// Records a job's outcome, then tells its watchers the job ended: a client that saw the end and asks for the job
    /// finds it ended too, and its record durable. The record's grain may be moving after a silo failure; an outcome
    /// lost here would leave the job running forever (the engine is done with it, the placement has released it), so
    /// the call is repeated until it lands. Repeats are harmless: a record keeps the first outcome it gets.
    /// </summary>
    private async Task RecordThenAnnounce(string jobId, JobOutcome outcome, IJobEventSink[] sinks, DateTimeOffset at)
    {
        await RecordOutcome(jobId, outcome);
        var end = new EventBatch();
        end.Add(sinks, JobEventRecord.Terminal(jobId, outcome.Status, at, outcome.Usage, outcome.FinishReason, outcome.Error));
        end.Send();
    }

    private async Task RecordOutcome(string jobId, JobOutcome outcome)
    {
        try
        {
            await SiloFailures.RetryAsync(() => _grains.GetGrain<IJobGrain>(jobId).Finish(outcome), _time);
        }
        catch (Exception ex)
        {
            LogOutcomeLost(_logger, ex, jobId, outcome.Status);
        }
    }

    private bool TryGetRunningOn(string replicaId, string sequenceId, out RunningSequence running) =>
        _running.TryGetValue(sequenceId, out running!) && running.Admitted.Placement.ReplicaId == replicaId;

    private void ReportCapacity(StepReport step, DateTimeOffset now)
    {
        var c = step.Capacity;
        if (c is null)
        {
            return;
        }

        // Rate-limited: SREs read it, no decision depends on it. An idle replica always reports.
        if (c.RunningSequences > 0 && _lastCapacityReport.TryGetValue(step.ReplicaId, out var last) && now - last < CapacityReportInterval)
        {
            return;
        }

        _lastCapacityReport[step.ReplicaId] = now;
        var capacity = new EngineCapacity(c.RunningSequences, c.KvTokensUsed, c.PeakSequences, c.PeakKvTokens, c.RejectedAdmissions, c.OutputTokensPerSecond, now);
        _grains.GetGrain<IReplicaGrain>(step.ReplicaId).ReportCapacity(capacity).Ignore();
    }

    private static JobOutcome Outcome(RunningSequence running, SequenceFinished done, ReplicaRegistration replica, DateTimeOffset now)
    {
        var ticket = running.Ticket;
        var submitted = ticket.SubmittedAt;

        // An engine with the model's own tokenizer reports the prompt's real length; others take the scheduler's count,
        // as does a count no prompt this replica accepts could have.
        var promptTokens = done.PromptTokens > 0 && done.PromptTokens <= replica.MaxContextTokens ? done.PromptTokens : ticket.Request.PromptTokens;
        var cost = replica.Profile.IsMetered
            ? replica.Profile.MeteredCostUsd(promptTokens, running.NextToken - ticket.ResumeFromToken)
            : running.CostUsd;
        var usage = new JobUsage(
            promptTokens,
            running.NextToken,
            cost,
            (running.AdmittedAt - submitted).TotalMilliseconds,
            ((running.FirstTokenAt ?? now) - submitted).TotalMilliseconds,
            (now - submitted).TotalMilliseconds);
        // A reason no engine sends is the node's bug: the job fails rather than passing it to the tenant as a success.
        var (status, reason, error) = done.Reason switch
        {
            "length" or "stop" => (JobStatus.Completed, done.Reason, (string?)null),
            "cancelled" => (JobStatus.Cancelled, done.Reason, null),
            _ => (JobStatus.Failed, "error", $"the node reported an unknown finish reason '{Shorten(done.Reason)}'"),
        };
        return new JobOutcome(status, reason, usage, running.Text, error, [.. running.TokenEnds]);
    }

    private static string Shorten(string reason) => reason.Length <= 32 ? reason : reason[..32] + "…";

    /// <summary>Gives every job still running here back to its placement, to resume where its client is.</summary>
    private void HandBackRunningJobs(bool nodeLost)
    {
        List<RunningSequence> orphans;
        lock (_gate)
        {
            _closed = true;
            orphans = [.. _running.Values];
            _running.Clear();
        }

        _outgoing.Writer.TryComplete();
        foreach (var group in orphans.GroupBy(o => o.Admitted.Placement.ReplicaId))
        {
            var model = group.First().Ticket.Request.Model;
            var sequences = group.Select(o => new RequeuedSequence(o.Ticket.JobId, o.NextToken, o.Delivered)).ToArray();
            _grains.GetGrain<IPlacementGrain>(model).Requeue(group.Key, LinkId, sequences, nodeLost ? HandBack.NodeLost : HandBack.StreamClosed).Ignore();
        }
    }

    private static SequenceSpec ToSpec(JobTicket ticket)
    {
        var request = ticket.Request;
        var spec = new SequenceSpec
        {
            SequenceId = ticket.JobId,
            PromptTokens = request.PromptTokens,
            MaxTokens = request.MaxTokens,
            ResumeFromToken = ticket.ResumeFromToken,
            Stop = request.Stop ?? "",
            Prompt = request.Prompt ?? "",
            Traceparent = request.TraceParent ?? "",
        };
        if (request.PromptTokenIds is { } ids)
        {
            spec.PromptTokenIds.AddRange(ids);
        }

        spec.ApplySampling(request);
        return spec;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "The outcome of job {JobId} ({Status}) could not be recorded")]
    private static partial void LogOutcomeLost(ILogger logger, Exception ex, string jobId, JobStatus status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Execution stream to node {NodeId} broke")]
    private static partial void LogStreamBroke(ILogger logger, Exception ex, string nodeId);
}
