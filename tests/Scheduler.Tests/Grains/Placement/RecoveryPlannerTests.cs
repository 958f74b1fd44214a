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

    /// <summary>A journaled job that arrived <paramref name="arrival"/> seconds after t0, resuming at
    /// <paramref name="delivered"/> tokens after <paramref name="handBacks"/> hand-backs and <paramref name="requeues"/> re-queues.</summary>
    private static JobTicket Journaled(string jobId, int arrival, int delivered = 0, int handBacks = 0, int requeues = 0) =>
        Ticket(jobId, "t", Model) with { SubmittedAt = s_t0.AddSeconds(arrival), ResumeFromToken = delivered, HandBacks = handBacks, Requeues = requeues };

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
    }

    [Fact]
    public void Plan_JobsALiveStreamRunsResume_OthersAreRequeuedInArrivalOrder_ThoseThatRanBeforeAsAdmitted()
    {
        var persisted = Persisted(On("ra", "n1"), On("rb", "n2"));
        NodeJobs n1 = new("link-1", [new RunningJob("running", "ra"), new RunningJob("on-unknown-replica", "rz")]);

        var plan = RecoveryPlanner.Plan(
            persisted,
            [("n1", n1), ("n2", null)],
            [
                Journaled("was-running", 5, delivered: 12),
                Journaled("running", 1),
                Journaled("handed-back", 2, handBacks: 1),
                Journaled("queued", 0),
                Journaled("on-unknown-replica", 6),
                Journaled("requeued", 7, requeues: 1),
            ]);

        Assert.Equal(
            [
                ("queued", false, null),
                ("running", true, "ra"),
                ("handed-back", true, null),            // an engine failed it: it ran, and goes back queued, admitted once
                ("was-running", true, null),            // it delivered tokens on a stream that is gone: the same
                ("on-unknown-replica", false, null),    // its replica is not the model's: nothing says it ran
                ("requeued", true, null),               // its node was lost before its first token: it ran, and delivered nothing
            ],
            plan.Jobs.Select(j => (j.Ticket.JobId, j.WasAdmitted, j.ResumeOn)));
    }
}
