using System.Collections.Concurrent;
using System.Diagnostics;
using Grpc.Core;
using Grpc.Net.Client;
using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Jobs;
using Scheduler.Abstractions.Placement;
using Scheduler.Grains;
using Scheduler.Grains.Jobs;
using Scheduler.Grains.Nodes;
using Scheduler.Protos.V1;
using JobStatus = Scheduler.Abstractions.Jobs.JobStatus;
using Scheduler.Silo.Streaming;
using Scheduler.Silo.Telemetry;

namespace Scheduler.Silo.Nodes;

/// <summary>
/// The execution stream to one worker node (a gRPC call over the node's channel, or in-process to a node hosted in this
/// process: <see cref="InProcessNodeLinks"/>): opens it, writes admitted batches and cancellations, and reads one report
/// per engine step, which <see cref="RunningBatches"/> translates and this sends on — events to the silos of the
/// jobs' watchers, progress and refusals to the replica's placement, outcomes settled here (<see cref="JobSettlement"/>:
/// a job's end goes to its placement and its watchers once its record holds it), capacity to the replica. When the stream breaks, every running job
/// goes back to its placement with the count of tokens already delivered, so it resumes elsewhere without
/// repeating or skipping a token.
/// </summary>
internal sealed partial class GrpcNodeLink : INodeLink
{
    private readonly NodeRegistration _node;
    private readonly string _nodeToken;
    private readonly GrainReferences _grains;
    private readonly JobSettlement _settlement;
    // The hub's delivery, made once: it is handed to every step's event batch.
    private readonly Action<IJobEventSink, JobEventRecord[]> _deliver;
    // Called once a record storage refused at first is written at last (made once: handed to every settlement).
    private readonly Action<SettledJob> _recordedLate;
    private readonly SchedulerTelemetry _telemetry;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly RunningBatches _batches;
    private readonly OutgoingCommands _outgoing = new();
    private readonly CancellationTokenSource _stop = new();

    // The "run job" span of each job running here, by job id: ended with its outcome, refusal or hand-back.
    private readonly ConcurrentDictionary<string, Activity> _runs = new(StringComparer.Ordinal);
    private readonly CallInvoker _invoker;

    // The channel the invoker calls through, closed with the link; none for a node in this process.
    private readonly GrpcChannel? _channel;
    private Task _run = Task.CompletedTask;

    public GrpcNodeLink(NodeRegistration node, string nodeToken, CallInvoker invoker, GrpcChannel? channel, GrainReferences grains, JobSettlement settlement, JobEventHub hub, SchedulerTelemetry telemetry, TimeProvider time, ILogger logger)
    {
        _node = node;
        _nodeToken = nodeToken;
        _grains = grains;
        _settlement = settlement;
        _deliver = hub.Deliver;
        _recordedLate = RecordedLate;
        _telemetry = telemetry;
        _time = time;
        _logger = logger;
        _batches = new RunningBatches(node, logger);
        _invoker = invoker;
        _channel = channel;
    }

    public string LinkId { get; } = Guid.NewGuid().ToString("N");

    public void Start() => _run = Task.Run(RunAsync);

    public bool Admit(string replicaId, AdmittedSequence[] batch)
    {
        if (_batches.Admit(batch, _time.GetUtcNow()) is not { } admitted)
        {
            return false;
        }

        var now = _time.GetUtcNow();
        var admit = new AdmitBatch { ReplicaId = replicaId };
        PreemptSequences? preempt = null;
        foreach (var seq in admitted.Started)
        {
            // The worker's spans continue the run span, or the job's own context when nobody records spans here.
            var run = _telemetry.StartRun(seq.Ticket, seq.Placement, now);
            if (run is not null)
            {
                _runs[seq.Ticket.JobId] = run;
            }

            var spec = ToSpec(seq.Ticket, run?.Id ?? seq.Ticket.Request.TraceParent);
            spec.FairRank = seq.FairRank;
            spec.DecodeDeferrals = seq.DecodeDeferrals;
            spec.ContendedPrefillTokens = seq.ContendedPrefillTokens;
            spec.ContendedPrefillWindowMs = seq.ContendedPrefillWindowMs;
            admit.Sequences.Add(spec);
        }

        // The placement's stops stand whether or not the job it made room for was already running here.
        foreach (var victim in batch.Select(seq => seq.Displaces).OfType<string>())
        {
            (preempt ??= new PreemptSequences { ReplicaId = replicaId }).SequenceIds.Add(victim);
        }

        // The stops first: the stream keeps the order, so the engine has freed the room when the admissions arrive.
        if (preempt is not null)
        {
            _outgoing.Enqueue(new ExecuteCommand { Preempt = preempt });
        }

        if (admit.Sequences.Count > 0)
        {
            _outgoing.Enqueue(new ExecuteCommand { Admit = admit });
        }

        admitted.Events.Send(_deliver);
        return true;
    }

    public void Cancel(string replicaId, string[] jobIds)
    {
        var cancel = new CancelSequences { ReplicaId = replicaId };
        cancel.SequenceIds.AddRange(jobIds);
        _outgoing.Enqueue(new ExecuteCommand { Cancel = cancel });
    }

    public bool Attach(string jobId, IJobEventSink sink, int fromToken)
    {
        if (_batches.Attach(jobId, sink, fromToken, _time.GetUtcNow()) is not { } missed)
        {
            return false;
        }

        missed.Send(_deliver);
        return true;
    }

    public RunningJob[] Running(string model) => _batches.Running(model);

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

        _channel?.Dispose();
        _stop.Dispose();
    }

    private async Task RunAsync()
    {
        var lostUnexpectedly = false;
        try
        {
            var client = new WorkerService.WorkerServiceClient(_invoker);
            var headers = new Metadata { { "authorization", "Bearer " + _nodeToken } };
            using var call = client.Execute(headers, cancellationToken: _stop.Token);
            var writer = _outgoing.WriteAsync(call.RequestStream, _stop.Token);
            await foreach (var e in call.ResponseStream.ReadAllAsync(_stop.Token))
            {
                var now = _time.GetUtcNow();
                if (e.Step is { } step && _batches.Translate(step, now) is { } translated)
                {
                    Send(translated, now);
                }
            }

            lostUnexpectedly = !_stop.IsCancellationRequested;

            // The node ended the stream (it is stopping): nothing more can be written to it. Left waiting for commands, the
            // writer held the hand-back of the node's jobs until its lease lapsed.
            _outgoing.Complete();
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
            await _grains.Node(_node.NodeId).LinkLost(LinkId);
        }
    }

    private void Send(TranslatedStep step, DateTimeOffset now)
    {
        var replica = step.Replica;
        step.Events.Send(_deliver);
        if (step.HasProgress)
        {
            _grains.Placement(replica.Model).OnProgress(replica.ReplicaId, step.Prefilled, [], step.EvictedPrefixBlocks).Ignore();
        }

        if (step.Refused.Length > 0)
        {
            foreach (var refused in step.Refused)
            {
                EndRun(refused.JobId, now, null, refused.Error ?? "refused by the engine");
            }

            _grains.Placement(replica.Model).Requeue(replica.ReplicaId, LinkId, step.Refused, HandBack.Rejected).Ignore();
        }

        if (step.Preempted.Length > 0)
        {
            foreach (var preempted in step.Preempted)
            {
                EndRun(preempted.JobId, now, null, "preempted");
            }

            _grains.Placement(replica.Model).Requeue(replica.ReplicaId, LinkId, step.Preempted, HandBack.Preempted).Ignore();
        }

        if (step.Outcomes.Length > 0)
        {
            SettleThenAnnounce(step, now).Ignore();
            foreach (var job in step.Outcomes)
            {
                EndRun(job.Ticket.JobId, now, job.Outcome);
            }
        }

        if (step.Capacity is { } capacity)
        {
            _grains.Replica(replica.ReplicaId).ReportCapacity(capacity).Ignore();
        }
    }

    /// <summary>
    /// Settles the step's finished jobs' records, then tells their placement they finished and their watchers they
    /// ended. The placement waits for the record too: told before it, it forgot the job, and this silo dying before
    /// the record's write left the job journaled, in no queue and on no replica — its tokens all delivered, its end
    /// never (docs/reliability.md); told after, it still counts the job under this stream, and hands it back when the
    /// node registers anew or its lease lapses. A client that saw the end and asks for the job finds it ended too, and
    /// its record durable (unless storage refused it: then it is written again until it lands, and both go out
    /// meanwhile — the engine is done with the job —, the placement with the outcome: <see cref="TellUnrecorded"/>).
    /// A job that settled already (a cancellation that won the race)
    /// keeps its record.
    /// </summary>
    private async Task SettleThenAnnounce(TranslatedStep step, DateTimeOffset at)
    {
        var records = await Task.WhenAll(step.Outcomes.Select(job => _settlement.Settle(job.Record(), _recordedLate)));
        if (Array.IndexOf(records, null) < 0)
        {
            _grains.Placement(step.Replica.Model).OnProgress(step.Replica.ReplicaId, [], step.Finished, []).Ignore();
        }
        else
        {
            TellUnrecorded(step, records).Ignore();
        }

        var end = new EventBatch();
        foreach (var job in step.Outcomes)
        {
            var outcome = job.Outcome;
            end.Add(job.Watchers, JobEventRecord.Terminal(job.Ticket.JobId, outcome.Status, at, outcome.Usage, outcome.FinishReason, outcome.Error));
        }

        end.Send(_deliver);
    }

    /// <summary>
    /// Tells the placement of a step's finishes when storage refused some of their records (<paramref name="records"/>
    /// null there; <see cref="JobSettlement"/> writes them again until they land): those written as finished, the others
    /// with their outcomes, which it keeps under this stream until they land (<see cref="RecordedLate"/>) and writes
    /// itself should this stream die first — this silo's writes may die with it. Either way their replica's slots are
    /// free at once, not held for the outage. Only here is the call awaited: a placement of the version before (a rolling
    /// upgrade) does not know it, and hears them as finished instead, as it did.
    /// </summary>
    private async Task TellUnrecorded(TranslatedStep step, SettledJob?[] records)
    {
        var replicaId = step.Replica.ReplicaId;
        var placement = _grains.Placement(step.Replica.Model);
        FinishedSequence[] written = [.. step.Finished.Where((_, i) => records[i] is not null)];
        if (written.Length > 0)
        {
            placement.OnProgress(replicaId, [], written, []).Ignore();
        }

        UnrecordedFinish[] unrecorded = [.. step.Outcomes.Select((job, i) => new UnrecordedFinish(step.Finished[i], job.Outcome)).Where((_, i) => records[i] is null)];
        try
        {
            await placement.OnFinishedUnrecorded(replicaId, LinkId, unrecorded);
        }
        catch (Exception ex)
        {
            LogUnrecordedNotKept(_logger, ex, unrecorded.Length, step.Replica.Model);
            placement.OnProgress(replicaId, [], [.. unrecorded.Select(u => u.Sequence)], []).Ignore();
        }
    }

    /// <summary>A job's record, refused by storage when its job finished, was written at last: its placement forgets the
    /// end it kept.</summary>
    private void RecordedLate(SettledJob record) =>
        _grains.Placement(record.Ticket.Request.Model).OnRecorded(LinkId, [record.Ticket.JobId]).Ignore();

    /// <summary>Gives every job still running here back to its placement, to resume where its client is.</summary>
    private void HandBackRunningJobs(bool nodeLost)
    {
        var handBacks = _batches.Close();
        _outgoing.Complete();
        var now = _time.GetUtcNow();
        foreach (var jobId in _runs.Keys)
        {
            EndRun(jobId, now, null, nodeLost ? "node lost" : "stream closed");
        }

        foreach (var replica in handBacks)
        {
            _grains.Placement(replica.Model).Requeue(replica.ReplicaId, LinkId, replica.Sequences, nodeLost ? HandBack.NodeLost : HandBack.StreamClosed).Ignore();
        }

        if (!nodeLost)
        {
            return;
        }

        // An idle replica of a lost node is lost too: told now, its placement sends it nothing more, where it would
        // otherwise dispatch there (and have the dispatch refused) until the node's lease expires.
        foreach (var idle in _node.Replicas.Where(r => !handBacks.Any(h => h.ReplicaId == r.ReplicaId)))
        {
            _grains.Placement(idle.Model).Requeue(idle.ReplicaId, LinkId, [], HandBack.NodeLost).Ignore();
        }
    }

    private void EndRun(string jobId, DateTimeOffset now, JobOutcome? outcome, string? handedBack = null)
    {
        if (_runs.TryRemove(jobId, out var run))
        {
            using (run)
            {
                SchedulerTelemetry.EndRun(run, now, outcome, handedBack);
            }
        }
    }

    /// <summary>The sequence a node runs for <paramref name="ticket"/>: a re-dispatched job's ticket carries its request (a chat's
    /// messages too) and where to resume; <paramref name="traceParent"/> is the context of the job's run span.</summary>
    internal static SequenceSpec ToSpec(JobTicket ticket, string? traceParent)
    {
        var request = ticket.Request;
        var spec = new SequenceSpec
        {
            SequenceId = ticket.JobId,
            PromptTokens = request.PromptTokens,
            MaxTokens = request.MaxTokens,
            ResumeFromToken = ticket.ResumeFromToken,
            ResumeText = ticket.Delivered is { } delivered && delivered.TokenEnds.Length == ticket.ResumeFromToken ? delivered.Text : "",
            Stop = request.Stop ?? "",
            Prompt = request.Prompt ?? "",
            Traceparent = traceParent ?? "",
            FitMaxTokens = request.FitMaxTokens,
        };
        if (request.PromptTokenIds is { } ids)
        {
            spec.PromptTokenIds.AddRange(ids);
        }

        foreach (var message in request.Messages ?? [])
        {
            spec.Messages.Add(new ChatTurn { Role = message.Role, Content = message.Content });
        }

        spec.ApplySampling(request);
        return spec;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The placement of {Model} could not be told that {Jobs} jobs finished before their records could be written; told they finished, it will not write them should this silo fail first")]
    private static partial void LogUnrecordedNotKept(ILogger logger, Exception ex, int jobs, string model);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Execution stream to node {NodeId} broke")]
    private static partial void LogStreamBroke(ILogger logger, Exception ex, string nodeId);
}
