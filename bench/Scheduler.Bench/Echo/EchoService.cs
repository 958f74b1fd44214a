using Grpc.Core;
using Scheduler.Bench.Echo.V1;

namespace Scheduler.Bench.Echo;

/// <summary>Returns the request as the response: no allocation, no await, nothing but the gRPC stack itself.</summary>
internal sealed class EchoService : V1.Echo.EchoBase
{
    public override Task<PingMessage> Ping(PingMessage request, ServerCallContext context) => Task.FromResult(request);
}
