using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Jobs;

namespace Scheduler.Grains.Placement;

/// <summary>
/// Decides how a placement activated after a failover rebuilds itself, from what it persisted (its replicas), what
/// the nodes of those replicas answered (which jobs their live streams run) and the journaled jobs with their records.
/// Replicas stay off unless their node's live stream vouches for them; jobs a live stream runs keep their place on it;
/// every other unfinished job is queued again in arrival order, to resume where its ticket says; jobs whose record
/// already ended only leave the journal.
/// </summary>
internal static class RecoveryPlanner
{
    /// <summary>The nodes to ask, once each: those of the persisted replicas.</summary>
    public static string[] NodesToAsk(PlacementState persisted) =>
        [.. persisted.Replicas.Values.Select(r => r.NodeId).Distinct(StringComparer.Ordinal)];

    /// <param name="persisted">The placement's persisted replicas.</param>
    /// <param name="answers">Each node asked, with its answer: null when it has no live stream (it must register again).</param>
    /// <param name="journaled">Every journaled job of the model with its record (null when the record is not there yet).</param>
    public static RecoveryPlan Plan(
        PlacementState persisted,
        IEnumerable<(string NodeId, NodeJobs? Answer)> answers,
        IEnumerable<(JobTicket Ticket, JobSnapshot? Record)> journaled)
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
        var ended = new List<string>();
        foreach (var (ticket, record) in journaled.OrderBy(p => p.Ticket.SubmittedAt))
        {
            if (record is { Status: not (JobStatus.Queued or JobStatus.Running) })
            {
                ended.Add(ticket.JobId);
                continue;
            }

            var resumeOn = running.TryGetValue(ticket.JobId, out var replicaId) && persisted.Replicas.ContainsKey(replicaId) ? replicaId : null;
            jobs.Add(new RecoveredJob(ticket, resumeOn is not null || record?.Status == JobStatus.Running, resumeOn));
        }

        return new RecoveryPlan(live, jobs, ended);
    }
}
