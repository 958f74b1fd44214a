using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Jobs;

namespace Scheduler.Grains.Nodes;

/// <summary>
/// The execution stream to one worker node, owned by that node's grain and living on its silo. It turns the
/// node's step reports into job events (one call per destination silo per step), finished jobs and capacity
/// reports; when it breaks, it hands its running jobs back to their placements and tells the node grain.
/// </summary>
public interface INodeLink : IAsyncDisposable
{
    /// <summary>Identifies this stream, so a stale loss report of an earlier stream is ignored.</summary>
    string LinkId { get; }

    /// <summary>Sends a batch of admitted jobs as one message. Returns false if the stream is down.</summary>
    bool Admit(string replicaId, AdmittedSequence[] batch);

    void Cancel(string replicaId, string[] jobIds);

    /// <summary>Replays a running job's admission and tokens from <paramref name="fromToken"/> to the sink and
    /// keeps it informed. False if the job is not running on this node.</summary>
    bool Attach(string jobId, IJobEventSink sink, int fromToken);

    /// <summary>The jobs of <paramref name="model"/> running on this stream now.</summary>
    RunningJob[] Running(string model);
}

/// <summary>Opens execution streams; the silo implements it over gRPC.</summary>
public interface INodeLinkFactory
{
    INodeLink Open(NodeRegistration node);
}
