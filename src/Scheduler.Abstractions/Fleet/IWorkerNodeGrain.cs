using Scheduler.Abstractions.Jobs;

namespace Scheduler.Abstractions.Fleet;

/// <summary>
/// One per worker node: holds its registration and lease, and owns the execution stream to it (the stream lives
/// on this grain's silo; when the silo dies, the node's next heartbeat re-creates both elsewhere). The registration is
/// persisted, so an activation after such a failure takes over the node's lease: a node that does not register again
/// within it is lost, and the jobs counted under its old stream are handed back.
/// </summary>
public interface IWorkerNodeGrain : IGrainWithStringKey
{
    /// <summary>Registers (or re-registers) the node, its accelerators and replicas, and opens the stream to it.
    /// Refused (<see cref="NodeLease.HeldBy"/> set, nothing changed) while another process
    /// (<see cref="NodeRegistration.InstanceId"/>) holds the id with a live lease and stream: two workers given one node
    /// id would otherwise take it from each other, each taking the other's running jobs with it.</summary>
    Task<NodeLease> Register(NodeRegistration registration);

    /// <summary>Renews the lease. False when this node is unknown here and must register again, or when
    /// <paramref name="instanceId"/> is not the process that registered it (that one's lease is not renewed by it).
    /// <paramref name="draining"/>: the node is stopping; its replicas take nothing new from now on (see
    /// <see cref="IAcceleratorGrain.Drain"/>), and what runs there finishes or is handed back when its stream ends.</summary>
    Task<bool> Heartbeat(bool draining, string instanceId);

    /// <summary><see cref="Heartbeat(bool, string)"/> from whichever process holds the node: the call of a silo of the
    /// version before instance ids, kept for a rolling upgrade.</summary>
    Task<bool> Heartbeat(bool draining);

    /// <summary>Sends jobs admitted into one replica in the same instant, as one message. One-way, so a placement
    /// never waits on a node; a batch that cannot be delivered is handed back to the placement for re-dispatch.</summary>
    [OneWay]
    Task Admit(string replicaId, AdmittedSequence[] batch);

    [OneWay]
    Task Cancel(string replicaId, string[] jobIds);

    /// <summary>Attaches a watcher to a running job (its admitted event and tokens so far are replayed).
    /// False when the job is not running on this node.</summary>
    [AlwaysInterleave]
    Task<bool> Attach(string jobId, IJobEventSink sink, int fromToken);

    /// <summary>The execution stream <paramref name="linkId"/> broke; the node's accelerators are marked lost.</summary>
    [OneWay]
    Task LinkLost(string linkId);

    Task<NodeInfo> Get();

    /// <summary>The node is leaving on purpose (it drained and ended its stream): the stream is closed if still open —
    /// what still runs there is handed back to resume elsewhere — and the node is forgotten as by <see cref="Forget"/>,
    /// so it is not shown lost for the silos' lifetime. An unknown node is forgotten already. Ignored when
    /// <paramref name="instanceId"/> is not the process that registered the node.</summary>
    Task Deregister(string instanceId);

    /// <summary><see cref="Deregister(string)"/> from whichever process holds the node: the call of a silo of the
    /// version before instance ids, kept for a rolling upgrade.</summary>
    Task Deregister();

    /// <summary>An operator forgets a node that is gone: its accelerators and replicas leave the catalog, the
    /// placements and the listings (a cordon is kept for a node of that id that comes back). Refused while the node is
    /// connected.</summary>
    Task<ForgetNodeResult> Forget();

    /// <summary>Makes sure the node's lease is watched. Nothing happens on a live activation; when the silo that held the
    /// grain died, this call activates it elsewhere, and the new activation takes over the lease from storage (a node
    /// that died with that silo heartbeats nowhere, so nothing else would). The placements of the node's replicas call
    /// it every heartbeat interval. One-way: a placement never waits on a node.</summary>
    [OneWay]
    Task WatchLease();

    /// <summary>The jobs of <paramref name="model"/> running on this node's live execution stream, for a placement
    /// rebuilding itself after a failover. Null when this activation has no stream (the node must register again).</summary>
    [AlwaysInterleave]
    Task<NodeJobs?> RunningJobs(string model);
}

/// <summary>What a node's execution stream runs right now.</summary>
[GenerateSerializer, Alias("scheduler.NodeJobs")]
public sealed record NodeJobs(
    [property: Id(0)] string LinkId,
    [property: Id(1)] RunningJob[] Jobs);

[GenerateSerializer, Alias("scheduler.RunningJob")]
public sealed record RunningJob(
    [property: Id(0)] string JobId,
    [property: Id(1)] string ReplicaId);
