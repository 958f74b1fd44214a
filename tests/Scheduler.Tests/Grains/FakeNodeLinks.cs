using System.Collections.Concurrent;
using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Jobs;
using Scheduler.Grains.Nodes;

namespace Scheduler.Tests.Grains;

/// <summary>One Admit message as the node link received it, and the grain whose turn handed it over.</summary>
internal sealed record AdmitMessage(string ReplicaId, AdmittedSequence[] Batch, GrainId? HandedOverBy)
{
    public IEnumerable<string> JobIds => Batch.Select(s => s.Ticket.JobId);
}

/// <summary>Stands in for the silo's gRPC links: opens a recording link per node registration.</summary>
internal sealed class FakeNodeLinkFactory : INodeLinkFactory
{
    private readonly ConcurrentDictionary<string, FakeNodeLink> _links = new(StringComparer.Ordinal);

    /// <summary>The silo's grain contexts, set once the silo runs: which grain's turn a call came in.</summary>
    public IGrainContextAccessor? Contexts { get; set; }

    public INodeLink Open(NodeRegistration node)
    {
        var link = new FakeNodeLink(node.NodeId, () => Contexts?.GrainContext?.GrainId);
        _links[node.NodeId] = link;
        return link;
    }

    /// <summary>The link most recently opened for <paramref name="nodeId"/>.</summary>
    public FakeNodeLink Link(string nodeId) =>
        _links.TryGetValue(nodeId, out var link) ? link : throw new InvalidOperationException($"No link was opened for node {nodeId}.");
}

/// <summary>Records Admit batches and Cancel calls; accepts everything unless told the stream is down.</summary>
internal sealed class FakeNodeLink(string nodeId, Func<GrainId?> currentGrain) : INodeLink
{
    private readonly Lock _gate = new();
    private readonly List<AdmitMessage> _admits = [];
    private readonly List<(string ReplicaId, string[] JobIds)> _cancels = [];

    public string NodeId { get; } = nodeId;

    public string LinkId { get; } = Guid.NewGuid().ToString("N");

    /// <summary>When false, Admit reports the stream as down.</summary>
    public bool Up { get; set; } = true;

    public bool Disposed { get; private set; }

    public IReadOnlyList<AdmitMessage> Admits
    {
        get
        {
            lock (_gate)
            {
                return [.. _admits];
            }
        }
    }

    public IReadOnlyList<(string ReplicaId, string[] JobIds)> Cancels
    {
        get
        {
            lock (_gate)
            {
                return [.. _cancels];
            }
        }
    }

    /// <summary>Every admitted job id, in arrival order.</summary>
    public IReadOnlyList<string> AdmittedJobIds => [.. Admits.SelectMany(a => a.JobIds)];

    public bool Admit(string replicaId, AdmittedSequence[] batch)
    {
        if (!Up)
        {
            return false;
        }

        lock (_gate)
        {
            _admits.Add(new AdmitMessage(replicaId, batch, currentGrain()));
        }

        return true;
    }

    public void Cancel(string replicaId, string[] jobIds)
    {
        lock (_gate)
        {
            _cancels.Add((replicaId, jobIds));
        }
    }

    public bool Attach(string jobId, IJobEventSink sink, int fromToken) => false;

    /// <summary>Every job admitted here is reported as running: the fake never finishes one.</summary>
    public RunningJob[] Running(string model) =>
        [.. Admits.SelectMany(a => a.Batch).Where(s => s.Ticket.Request.Model == model).Select(s => new RunningJob(s.Ticket.JobId, s.Placement.ReplicaId))];

    public ValueTask DisposeAsync()
    {
        Disposed = true;
        return ValueTask.CompletedTask;
    }
}
