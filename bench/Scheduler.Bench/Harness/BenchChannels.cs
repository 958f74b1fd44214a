using Grpc.Net.Client;

namespace Scheduler.Bench.Harness;

/// <summary>The one client channel configuration used for both paths, so that the ratio compares servers, not clients.</summary>
internal static class BenchChannels
{
    public static GrpcChannel For(string address) => GrpcChannel.ForAddress(address, new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler
        {
            // 64 concurrent calls fit in one HTTP/2 connection (Kestrel allows 100 streams); more connections
            // only open if that limit is reached. Same for the echo and the scheduler.
            EnableMultipleHttp2Connections = true,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
        },
        DisposeHttpClient = true,
    });
}
