using System.Collections.Concurrent;
using Grpc.Core;

namespace Scheduler.Silo.Nodes;

/// <summary>
/// The worker nodes hosted in this silo's own process whose execution stream is reached without a socket: a node's
/// id and the invoker that serves its <c>WorkerService.Execute</c> in-process. The execution stream to any other node,
/// or to one of these from another silo, is dialled over gRPC at the node's registered address.
/// </summary>
/// <remarks>Keyed by node id, not address: a node registers once it listens, and the silo may open its stream before
/// the host that started it has read the port it bound. Node ids are unique in a cluster.</remarks>
public sealed class InProcessNodeLinks
{
    private readonly ConcurrentDictionary<string, CallInvoker> _invokers = new(StringComparer.Ordinal);

    /// <summary>Reaches node <paramref name="nodeId"/>'s execution stream through <paramref name="invoker"/> from now on.</summary>
    public void Add(string nodeId, CallInvoker invoker) => _invokers[nodeId] = invoker;

    /// <summary>Dials node <paramref name="nodeId"/> over gRPC again (its host is stopping).</summary>
    public void Remove(string nodeId) => _invokers.TryRemove(nodeId, out _);

    /// <summary>The in-process invoker of node <paramref name="nodeId"/>, or null to dial it.</summary>
    public CallInvoker? Find(string nodeId) => _invokers.GetValueOrDefault(nodeId);
}
