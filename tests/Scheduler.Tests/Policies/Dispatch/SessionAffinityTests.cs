using Scheduler.Policies;
using Scheduler.Policies.Dispatch;
using Scheduler.Policies.Profiles;
using static Scheduler.Tests.Policies.PolicyFixtures;

namespace Scheduler.Tests.Policies.Dispatch;

public sealed class SessionAffinityTests
{
    // Round-robin alternates between two alike replicas: only affinity keeps a session's jobs on one.
    private static Dispatcher TwoA100s()
    {
        var dispatcher = Dispatcher.Create("round-robin", "fifo", "continuous");
        dispatcher.Replicas["a"] = Replica("a", AcceleratorProfiles.A100);
        dispatcher.Replicas["b"] = Replica("b", AcceleratorProfiles.A100);
        return dispatcher;
    }

    private static string AdmitOne(Dispatcher dispatcher, JobDemand job)
    {
        dispatcher.Queue.Enqueue(job);
        return Assert.Single(dispatcher.AdmitWhatFits()).Replica.ReplicaId;
    }

    [Fact]
    public void AdmitWhatFits_SessionJobs_StayOnTheSessionsReplica_OthersFollowThePolicy()
    {
        var dispatcher = TwoA100s();
        var first = AdmitOne(dispatcher, Job("s1") with { SessionId = "chat" });

        Assert.Equal(first, AdmitOne(dispatcher, Job("s2") with { SessionId = "chat" }));
        Assert.Equal(first, AdmitOne(dispatcher, Job("s3") with { SessionId = "chat" }));
        Assert.NotEqual(AdmitOne(dispatcher, Job("x1")), AdmitOne(dispatcher, Job("x2")));
    }

    [Fact]
    public void AdmitWhatFits_SessionsReplicaWouldMissTheObjective_ThePolicyChooses_AndTheSessionMoves()
    {
        var dispatcher = TwoA100s();
        Assert.Equal("a", AdmitOne(dispatcher, Job("s1") with { SessionId = "chat" }));

        // 30,000 prompt tokens waiting on "a" (2 s at 15k tok/s) against a 1 s objective.
        dispatcher.Replicas["a"].Admit(Job("long", prompt: 30_000, maxTokens: 10));

        Assert.Equal("b", AdmitOne(dispatcher, Job("s2") with { SessionId = "chat" }));
        Assert.Equal("b", AdmitOne(dispatcher, Job("s3") with { SessionId = "chat" }));
    }

    [Fact]
    public void AdmitWhatFits_SessionsReplicaGone_ThePolicyChooses()
    {
        var dispatcher = TwoA100s();
        var first = AdmitOne(dispatcher, Job("s1") with { SessionId = "chat" });
        dispatcher.Replicas[first].Schedulable = false;

        Assert.NotEqual(first, AdmitOne(dispatcher, Job("s2") with { SessionId = "chat" }));
    }

    [Fact]
    public void Placed_AtCapacity_ForgetsTheLeastRecentlyPlacedSession_AReplacedOneCountsAsRecent()
    {
        var affinity = new SessionAffinity();
        var replicas = new Scheduler.Policies.Placement.ReplicaSet { ["a"] = Replica("a", AcceleratorProfiles.A100), ["b"] = Replica("b", AcceleratorProfiles.A100) };
        JobDemand Turn(string session) => Job("t-" + session, prompt: 100, maxTokens: 10) with { SessionId = session };
        affinity.Placed(Turn("first"), replicas["a"]);
        affinity.Placed(Turn("second"), replicas["a"]);

        // "first" placed again, now on b: it moves to the front, and its replica is b.
        affinity.Placed(Turn("first"), replicas["b"]);
        for (var i = 2; i < SessionAffinity.Capacity; i++)
        {
            affinity.Placed(Turn($"s{i}"), replicas["a"]);
        }

        Assert.Equal(SessionAffinity.Capacity, affinity.Count);
        affinity.Placed(Turn("one-more"), replicas["a"]);

        Assert.Equal(SessionAffinity.Capacity, affinity.Count);
        Assert.Null(affinity.Preferred(Turn("second"), replicas));
        Assert.Equal("b", affinity.Preferred(Turn("first"), replicas)?.ReplicaId);
    }
}
