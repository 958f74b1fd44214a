using Grpc.Core;
using Scheduler.Protos.V1;

namespace Scheduler.Worker.Services.InProcess;

/// <summary>
/// Serves <c>WorkerService.Execute</c> to a scheduler in the same process without a socket: the embedded fleet's
/// execution streams, where serializing every admission and step report, framing it in HTTP/2 and reading it back on
/// loopback was two of the four network legs of a job's first token (docs/benchmarks.md, issue 12). The call runs the
/// same handler, sessions and engines as one over gRPC. Only the execution stream is served: the node's registration
/// and heartbeats go to the scheduler over gRPC as a remote node's do, and any other method is UNIMPLEMENTED here.
/// </summary>
/// <remarks>The node token is not checked: it authenticates a scheduler over the network, and this caller is the
/// process the node runs in.</remarks>
internal sealed class InProcessWorkerInvoker(WorkerGrpcService service) : CallInvoker
{
    public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options)
    {
        if (method.FullName != Execute)
        {
            throw Unimplemented(method);
        }

        var call = InProcessDuplexCall<ExecuteCommand, ExecuteEvent>.Start(method.FullName, service.Execute, options);
        return (AsyncDuplexStreamingCall<TRequest, TResponse>)(object)call;
    }

    public override TResponse BlockingUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        throw Unimplemented(method);

    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        throw Unimplemented(method);

    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        throw Unimplemented(method);

    public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) =>
        throw Unimplemented(method);

    private static string Execute { get; } = $"/{WorkerService.Descriptor.FullName}/Execute";

    private static RpcException Unimplemented(IMethod method) =>
        new(new Status(StatusCode.Unimplemented, $"{method.FullName} is not served in-process; only the execution stream is."));
}
