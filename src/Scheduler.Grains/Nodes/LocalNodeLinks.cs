using System.Collections.Concurrent;
using Scheduler.Abstractions.Fleet;

namespace Scheduler.Grains.Nodes;

/// <summary>
/// The execution streams whose node grains are active on this silo, by node id: a placement on the same silo hands an
/// admitted batch to the stream itself instead of sending it through the node's grain.
/// </summary>
/// <remarks>
/// Why: a one-way grain call is a message, its dispatch and a hop to another thread, for every admission round, on the
/// path to a job's first token; <see cref="INodeLink.Admit"/> only queues the batch for the stream's writer, so the
/// placement can call it from its own turn. A stream is here exactly while its node grain holds it: a placement that
/// misses here (the node's grain is on another silo, or its stream is being replaced) uses the grain as before, and a
/// stream that closed in between refuses the batch, which then also goes through the grain (it hands it back).
/// </remarks>
public sealed class LocalNodeLinks
{
    private readonly ConcurrentDictionary<string, INodeLink> _byNode = new(StringComparer.Ordinal);

    /// <summary>Makes <paramref name="link"/> the stream of <paramref name="nodeId"/> on this silo.</summary>
    public void Set(string nodeId, INodeLink link) => _byNode[nodeId] = link;

    /// <summary>Forgets <paramref name="link"/>, unless a newer stream of the node already replaced it.</summary>
    public void Remove(string nodeId, INodeLink link) => _byNode.TryRemove(KeyValuePair.Create(nodeId, link));

    /// <summary>Hands a batch to the node's stream on this silo; false when there is none here or it refused.</summary>
    public bool TryAdmit(string nodeId, string replicaId, AdmittedSequence[] batch) =>
        _byNode.TryGetValue(nodeId, out var link) && link.Admit(replicaId, batch);
}
