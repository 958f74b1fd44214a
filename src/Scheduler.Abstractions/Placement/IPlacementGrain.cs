using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Jobs;

namespace Scheduler.Abstractions.Placement;

/// <summary>
/// One per model: the model's queue in fair order and the scheduler's view of every replica's running batch.
/// It performs continuous batching and cost-aware dispatch from state pushed to it; it never calls out to
/// other grains to decide.
/// </summary>
public interface IPlacementGrain : IGrainWithStringKey
{
    /// <summary>Queues a job and admits whatever fits. Returns the job's queue position (0 = admitted or next).</summary>
    Task<int> Enqueue(JobTicket ticket);

    /// <summary>Adds or refreshes replicas (a node registered); they become schedulable.</summary>
    Task UpsertReplicas(ReplicaRegistration[] replicas);

    /// <summary>Accelerator state or node connectivity changed.</summary>
    Task SetSchedulable(string replicaId, bool schedulable);

    /// <summary>One engine step's news for a replica: sequences whose first token came, sequences that finished.</summary>
    Task OnProgress(string replicaId, string[] prefilled, FinishedSequence[] finished);

    /// <summary>A node was lost: its running jobs go back to the front of their queues.</summary>
    Task Requeue(string replicaId, RequeuedSequence[] sequences);

    Task<CancelOutcome> Cancel(string jobId);

    /// <summary>Attaches a watcher to a queued or running job. False when the job is neither.</summary>
    Task<bool> Attach(string jobId, IJobEventSink sink, int fromToken);

    Task<PlacementSnapshot> GetSnapshot();
}
