using Scheduler.Protos.Tls;
using Microsoft.Extensions.Options;
using Scheduler.Abstractions.Fleet;
using Scheduler.Grains;
using Scheduler.Grains.Jobs;
using Scheduler.Grains.Nodes;
using Scheduler.Silo.Streaming;
using Scheduler.Silo.Telemetry;

namespace Scheduler.Silo.Nodes;

/// <summary>Opens execution streams to worker nodes over gRPC (TLS to https:// nodes), or in-process to a node hosted in
/// this process (<see cref="InProcessNodeLinks"/>).</summary>
internal sealed class GrpcNodeLinkFactory(
    GrainReferences grains,
    JobSettlement settlement,
    JobEventHub hub,
    IOptions<NodeOptions> options,
    NodeLinkTrust trust,
    InProcessNodeLinks inProcess,
    SchedulerTelemetry telemetry,
    TimeProvider time,
    ILoggerFactory loggers) : INodeLinkFactory
{
    public INodeLink Open(NodeRegistration node)
    {
        var local = inProcess.Find(node.NodeId);
        var channel = local is null ? SchedulerChannels.ForAddress(node.Address, trust.TrustedCa) : null;
        var link = new GrpcNodeLink(node, options.Value.NodeToken, local ?? channel!.CreateCallInvoker(), channel, grains, settlement, hub, telemetry, time, loggers.CreateLogger<GrpcNodeLink>());
        link.Start();
        return link;
    }
}
