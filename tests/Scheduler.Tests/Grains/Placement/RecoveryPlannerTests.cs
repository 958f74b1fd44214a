using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Jobs;
using Scheduler.Grains.Placement;
using static Scheduler.Tests.Grains.GrainTestKit;

namespace Scheduler.Tests.Grains.Placement;

public sealed class RecoveryPlannerTests
{
    private const string Model = "m";
    private static readonly DateTimeOffset s_t0 = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static PlacementState Persisted(params ReplicaRegistration[] replicas)
    {
        var state = new PlacementState();
        foreach (var r in replicas)
        {
            state.Replicas[r.ReplicaId] = r;
        }

        return state;
    }

    private static ReplicaRegistration On(string replicaId, string nodeId) => Replica(replicaId, Model, nodeId, maxSequences: 4, kvCapacityTokens: 100_000);

    /// <summary>A journaled job that arrived <paramref name="arrival"/> seconds after t0, with its record (null: none yet).</summary>
    private static (JobTicket, JobSnapshot?) Journaled(string jobId, int arrival, JobStatus? status)
    {
        var ticket = Ticket(jobId, "t", Model) with { SubmittedAt = s_t0.AddSeconds(arrival) };
        return (ticket, status is { } s ? JobSnapshot.Queued(ticket) with { Status = s } : null);
    }

    [Fact]
    public void NodesToAsk_EachNodeOfThePersistedReplicasOnce()
    {
        var persisted = Persisted(On("ra", "n1"), On("rb", "n2"), On("rc", "n1"));

        Assert.Equal(["n1", "n2"], RecoveryPlanner.NodesToAsk(persisted));
    }

    [Fact]
    public void Plan_OnlyReplicasOfNodesWithALiveStream_AreVouchedFor()
    {
        var persisted = Persisted(On("ra", "n1"), On("rb", "n2"), On("rc", "n1"), On("rd", "n3"));

        var plan = RecoveryPlanner.Plan(
            persisted,
            [("n1", new NodeJobs("link-1", [])), ("n2", null), ("n3", new NodeJobs("link-3", []))],
            []);

        Assert.Equal([new LiveReplica("ra", "link-1"), new LiveReplica("rc", "link-1"), new LiveReplica("rd", "link-3")], plan.LiveReplicas);
        Assert.Empty(plan.Jobs);
        Assert.Empty(plan.Ended);
    }

    [Fact]
    public void Plan_JobsALiveStreamRunsResume_OthersAreRequeuedInArrivalOrder_EndedRecordsAreDropped()
    {
        var persisted = Persisted(On("ra", "n1"), On("rb", "n2"));
        NodeJobs n1 = new("link-1", [new RunningJob("running", "ra"), new RunningJob("on-unknown-replica", "rz")]);

        var plan = RecoveryPlanner.Plan(
            persisted,
            [("n1", n1), ("n2", null)],
            [
                Journaled("was-running", 5, JobStatus.Running),
                Journaled("running", 1, JobStatus.Running),
                Journaled("completed", 2, JobStatus.Completed),
                Journaled("queued", 0, JobStatus.Queued),
                Journaled("on-unknown-replica", 6, JobStatus.Running),
                Journaled("no-record-yet", 4, null),
                Journaled("cancelled", 3, JobStatus.Cancelled),
                Journaled("expired", 7, JobStatus.Expired),
            ]);

        Assert.Equal(
            [
                ("queued", false, null),
                ("running", true, "ra"),
                ("no-record-yet", false, null),
                ("was-running", true, null),            // it ran on a stream that is gone: queued again, admitted once
                ("on-unknown-replica", true, null),
            ],
            plan.Jobs.Select(j => (j.Ticket.JobId, j.WasAdmitted, j.ResumeOn)));
        Assert.Equal(["completed", "cancelled", "expired"], plan.Ended);
    }
}
