using Microsoft.Extensions.Options;
using Scheduler.Abstractions.Fleet;
using Scheduler.Grains.Nodes;
using Scheduler.Silo.Telemetry;

namespace Scheduler.Silo.Nodes;

/// <summary>Opens execution streams to worker nodes over gRPC.</summary>
internal sealed class GrpcNodeLinkFactory(
    IGrainFactory grains,
    IOptions<NodeOptions> options,
    SchedulerTelemetry telemetry,
    TimeProvider time,
    ILoggerFactory loggers) : INodeLinkFactory
{
    public INodeLink Open(NodeRegistration node)
    {
        var link = new GrpcNodeLink(node, options.Value.NodeToken, grains, telemetry, time, loggers.CreateLogger<GrpcNodeLink>());
        link.Start();
        return link;
    }
}
