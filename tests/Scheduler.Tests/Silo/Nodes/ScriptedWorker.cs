using Grpc.Core;
using Scheduler.Protos.V1;
using Scheduler.Worker.Services.InProcess;

namespace Scheduler.Tests.Silo.Nodes;

/// <summary>
/// A worker node's execution stream played by a test, in-process: for every batch admitted, it writes the step reports
/// <paramref name="answer"/> gives for it, then waits for the next command. Nothing else is served.
/// </summary>
internal sealed class ScriptedWorker(Func<AdmitBatch, IEnumerable<StepReport>> answer) : CallInvoker
{
    public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) =>
        (AsyncDuplexStreamingCall<TRequest, TResponse>)(object)InProcessDuplexCall<ExecuteCommand, ExecuteEvent>.Start(method.FullName, Serve, options);

    public override TResponse BlockingUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        throw new NotSupportedException();

    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        throw new NotSupportedException();

    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        throw new NotSupportedException();

    public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) =>
        throw new NotSupportedException();

    private async Task Serve(IAsyncStreamReader<ExecuteCommand> commands, IServerStreamWriter<ExecuteEvent> events, ServerCallContext context)
    {
        while (await commands.MoveNext(context.CancellationToken))
        {
            if (commands.Current.Admit is { } admit)
            {
                foreach (var step in answer(admit))
                {
                    await events.WriteAsync(new ExecuteEvent { Step = step }, context.CancellationToken);
                }
            }
        }
    }
}
