using Grpc.Core;
using Scheduler.Protos.V1;
using Scheduler.Worker.Engines;
using Scheduler.Worker.Hosting;

namespace Scheduler.Worker.Services;

/// <summary>The node's gRPC face to the scheduler: describe, health, and the execution stream.</summary>
internal sealed partial class WorkerGrpcService(
    WorkerNode node,
    ReplicaEngines engines,
    ExecuteSessions sessions,
    ILogger<WorkerGrpcService> logger) : WorkerService.WorkerServiceBase
{
    public override Task<NodeDescription> Describe(DescribeRequest request, ServerCallContext context) =>
        Task.FromResult(node.Describe());

    public override Task<NodeHealth> Health(NodeHealthRequest request, ServerCallContext context) =>
        Task.FromResult(new NodeHealth { Serving = engines.Healthy, RunningSequences = engines.RunningSequences });

    public override async Task Execute(
        IAsyncStreamReader<ExecuteCommand> requestStream,
        IServerStreamWriter<ExecuteEvent> responseStream,
        ServerCallContext context)
    {
        var session = await sessions.OpenAsync(responseStream, context.CancellationToken);
        LogStreamOpened(logger, context.Peer);
        int dropped;
        try
        {
            while (await requestStream.MoveNext(session.Cancellation))
            {
                await DispatchAsync(requestStream.Current, session);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException)
        {
            // The scheduler went away, stopped reading, or a newer stream took over: the session closes below.
        }
        finally
        {
            dropped = await sessions.CloseAsync(session);
        }

        LogStreamClosed(logger, context.Peer, session.Superseded, dropped);
        if (session.Superseded)
        {
            throw new RpcException(new Status(StatusCode.Aborted, "A newer Execute stream replaced this one."));
        }
    }

    private async ValueTask DispatchAsync(ExecuteCommand command, ExecuteSession session)
    {
        switch (command.CommandCase)
        {
            case ExecuteCommand.CommandOneofCase.Admit:
                await AdmitAsync(command.Admit, session);
                break;
            case ExecuteCommand.CommandOneofCase.Cancel:
                if (engines.TryGet(command.Cancel.ReplicaId, out var engine))
                {
                    engine.Cancel(command.Cancel.SequenceIds, FinishReason.Cancelled);
                }

                break;
            case ExecuteCommand.CommandOneofCase.Preempt:
                // Stopped like a cancel, but reported preempted: the scheduler queues the job again.
                if (engines.TryGet(command.Preempt.ReplicaId, out var preempting))
                {
                    preempting.Cancel(command.Preempt.SequenceIds, FinishReason.Preempted);
                }

                break;
            default:
                LogUnknownCommand(logger, command.CommandCase.ToString());
                break;
        }
    }

    private async ValueTask AdmitAsync(AdmitBatch batch, ExecuteSession session)
    {
        if (engines.TryGet(batch.ReplicaId, out var engine))
        {
            engine.Admit(batch.Sequences);
            return;
        }

        // Answer every sequence, so the scheduler does not wait forever for tokens that will never come.
        LogUnknownReplica(logger, batch.ReplicaId, batch.Sequences.Count);
        var report = new StepReport { ReplicaId = batch.ReplicaId };
        report.Finished.Add(batch.Sequences.Select(s => new SequenceFinished
        {
            SequenceId = s.SequenceId,
            Reason = FinishReason.Rejected,
            CompletionTokens = s.ResumeFromToken,
        }));
        await session.SendAsync(report);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Execute stream opened by {Peer}")]
    private static partial void LogStreamOpened(ILogger logger, string peer);

    [LoggerMessage(Level = LogLevel.Information, Message = "Execute stream from {Peer} closed (superseded: {Superseded}); {Dropped} running sequences dropped, for the scheduler to resume elsewhere")]
    private static partial void LogStreamClosed(ILogger logger, string peer, bool superseded, int dropped);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rejected {Count} sequences admitted to unknown replica {ReplicaId}")]
    private static partial void LogUnknownReplica(ILogger logger, string replicaId, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ignored an Execute command of unknown kind {Kind}")]
    private static partial void LogUnknownCommand(ILogger logger, string kind);
}
