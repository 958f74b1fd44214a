using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Scheduler.Worker.Hosting;

namespace Scheduler.Worker.Services;

/// <summary>Lets through only calls carrying <c>authorization: Bearer &lt;node-token&gt;</c>; others get UNAUTHENTICATED.
/// It guards all four call shapes, so a method added to the service later cannot slip past it.</summary>
internal sealed class NodeTokenInterceptor(WorkerNodeOptions options) : Interceptor
{
    // Hashes compare in constant time whatever the presented token's length.
    private readonly byte[] _expectedHash = SHA256.HashData(Encoding.UTF8.GetBytes($"Bearer {options.NodeToken}"));

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Authenticate(context);
        return continuation(request, context);
    }

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Authenticate(context);
        return continuation(requestStream, context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Authenticate(context);
        return continuation(request, responseStream, context);
    }

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Authenticate(context);
        return continuation(requestStream, responseStream, context);
    }

    private void Authenticate(ServerCallContext context)
    {
        var presented = context.RequestHeaders.GetValue("authorization");
        if (presented is null || !CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), _expectedHash))
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "Missing or wrong node token: send \"authorization: Bearer <node-token>\"."));
        }
    }
}
