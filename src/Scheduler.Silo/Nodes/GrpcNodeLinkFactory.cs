using Microsoft.Extensions.Options;
using Scheduler.Abstractions.Fleet;
using Scheduler.Grains;
using Scheduler.Grains.Jobs;
using Scheduler.Grains.Nodes;
using Scheduler.Silo.Streaming;
using Scheduler.Silo.Telemetry;

namespace Scheduler.Silo.Nodes;

/// <summary>Opens execution streams to worker nodes over gRPC (TLS to https:// nodes).</summary>
internal sealed class GrpcNodeLinkFactory(
    GrainReferences grains,
    JobSettlement settlement,
    JobEventHub hub,
    IOptions<NodeOptions> options,
    NodeLinkTrust trust,
    SchedulerTelemetry telemetry,
    TimeProvider time,
    ILoggerFactory loggers) : INodeLinkFactory
{
    public INodeLink Open(NodeRegistration node)
    {
        var link = new GrpcNodeLink(node, options.Value.NodeToken, trust.TrustedCa, grains, settlement, hub, telemetry, time, loggers.CreateLogger<GrpcNodeLink>());
        link.Start();
        return link;
    }
}
