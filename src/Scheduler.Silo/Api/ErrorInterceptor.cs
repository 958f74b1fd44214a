using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Scheduler.Silo.Api;

/// <summary>Maps unexpected exceptions to INTERNAL (logged, never shown), cancellations to CANCELLED, and a silo failing
/// under a call to UNAVAILABLE (retry).</summary>
internal sealed partial class ErrorInterceptor(ILogger<ErrorInterceptor> logger) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context);
        }
        catch (Exception ex) when (ex is not RpcException)
        {
            throw Map(ex, context);
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(request, responseStream, context);
        }
        catch (Exception ex) when (ex is not RpcException)
        {
            throw Map(ex, context);
        }
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(requestStream, context);
        }
        catch (Exception ex) when (ex is not RpcException)
        {
            throw Map(ex, context);
        }
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(requestStream, responseStream, context);
        }
        catch (Exception ex) when (ex is not RpcException)
        {
            throw Map(ex, context);
        }
    }

    /// <summary>The status an unexpected exception becomes; also for one submission of a StreamJobs call
    /// (<see cref="JobMultiplexer"/>), which reports it without ending the call.</summary>
    public RpcException Map(Exception ex, ServerCallContext context)
    {
        if (ex is OperationCanceledException && context.CancellationToken.IsCancellationRequested)
        {
            return new RpcException(new Status(StatusCode.Cancelled, "call cancelled"));
        }

        if (SchedulerErrors.Transient(ex) is { } unavailable)
        {
            // Said for what it is: a Redis outage's refusals read as a silo failure that did not happen (an SRE probe).
            if (SchedulerErrors.IsStorageFailure(ex))
            {
                LogStorageFailure(logger, context.Method, ex.GetType().Name);
            }
            else if (ex is not TimeoutException)
            {
                LogSiloFailure(logger, context.Method, ex.GetType().Name);
            }

            return unavailable;
        }

        LogUnhandled(logger, ex, context.Method);
        return new RpcException(new Status(StatusCode.Internal, "internal error"));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Method} answered UNAVAILABLE: {Exception} while the cluster recovers from a silo failure")]
    private static partial void LogSiloFailure(ILogger logger, string method, string exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Method} answered UNAVAILABLE: {Exception}: Redis does not answer")]
    private static partial void LogStorageFailure(ILogger logger, string method, string exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled error in {Method}")]
    private static partial void LogUnhandled(ILogger logger, Exception ex, string method);
}
