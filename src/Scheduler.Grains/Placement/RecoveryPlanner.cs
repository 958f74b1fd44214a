using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Jobs;

namespace Scheduler.Grains.Placement;

/// <summary>
/// Decides how a placement activated after a failover rebuilds itself, from what it persisted (its replicas), what
/// the nodes of those replicas answered (which jobs their live streams run) and the journaled (unfinished) jobs.
/// Replicas stay off unless their node's live stream vouches for them; jobs a live stream runs keep their place on it;
/// every other journaled job is queued again in arrival order, to resume where its ticket says.
/// </summary>
internal static class RecoveryPlanner
{
    /// <summary>The nodes to ask, once each: those of the persisted replicas.</summary>
    public static string[] NodesToAsk(PlacementState persisted) =>
        [.. persisted.Replicas.Values.Select(r => r.NodeId).Distinct(StringComparer.Ordinal)];

    /// <param name="persisted">The placement's persisted replicas.</param>
    /// <param name="answers">Each node asked, with its answer: null when it has no live stream (it must register again).</param>
    /// <param name="journaled">Every journaled job of the model.</param>
    public static RecoveryPlan Plan(
        PlacementState persisted,
        IEnumerable<(string NodeId, NodeJobs? Answer)> answers,
        IEnumerable<JobTicket> journaled)
    {
        var live = new List<LiveReplica>();
        var running = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (nodeId, answer) in answers)
        {
            if (answer is null)
            {
                continue;
            }

            live.AddRange(persisted.Replicas.Values.Where(r => r.NodeId == nodeId).Select(r => new LiveReplica(r.ReplicaId, answer.LinkId)));
            foreach (var job in answer.Jobs)
            {
                running[job.JobId] = job.ReplicaId;
            }
        }

        var jobs = new List<RecoveredJob>();
        foreach (var ticket in journaled.OrderBy(t => t.SubmittedAt))
        {
            var resumeOn = running.TryGetValue(ticket.JobId, out var replicaId) && persisted.Replicas.ContainsKey(replicaId) ? replicaId : null;

            // A job that ran before (it delivered tokens, or went back to its queue from a replica) left its tenant's
            // queue already. (A ticket journaled by a version before re-queues were journaled counts engine failures only.)
            var ranBefore = resumeOn is not null || ticket.ResumeFromToken > 0 || ticket.Requeues > 0 || ticket.HandBacks > 0;
            jobs.Add(new RecoveredJob(ticket, ranBefore, resumeOn));
        }

        return new RecoveryPlan(live, jobs);
    }
}
