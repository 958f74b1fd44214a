using Microsoft.Extensions.Time.Testing;
using Scheduler.Policies;
using Scheduler.Policies.Dispatch;
using Scheduler.Policies.Placement;
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
    public void AdmitWhatFits_TwoTenantsNamingTheirSessionsAlike_AreTwoSessions()
    {
        // Found probing session ids reused across tenants: tenant b's "chat" was placed where tenant a's "chat" last ran
        // (and would have waited for it when full), sessions being keyed by their id alone, which each tenant picks.
        var dispatcher = TwoA100s();
        var ofA = AdmitOne(dispatcher, Job("a1", tenant: "a") with { SessionId = "chat" });

        var ofB = AdmitOne(dispatcher, Job("b1", tenant: "b") with { SessionId = "chat" });

        Assert.NotEqual(ofA, ofB);
        Assert.Equal(ofB, AdmitOne(dispatcher, Job("b2", tenant: "b") with { SessionId = "chat" }));
        Assert.Equal(ofA, AdmitOne(dispatcher, Job("a2", tenant: "a") with { SessionId = "chat" }));
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
    public void AdmitWhatFits_SessionsMeteredReplicaWouldHoldTheJobPastItsObjective_ThePolicyChooses()
    {
        // A metered endpoint allowing 60,000 prompt-plus-output tokens a minute, and an A100. The session's first turn
        // goes to the endpoint (least outstanding among equals: the first listed), whose limiter the next turns drain.
        var time = new FakeTimeProvider(T0);
        var dispatcher = Dispatcher.Create("least-outstanding", "fifo", "continuous", time: time);
        dispatcher.Replicas["lpu"] = Metered("lpu", time);
        dispatcher.Replicas["gpu"] = Replica("gpu", AcceleratorProfiles.A100);
        JobDemand Turn(string id) => Job(id, prompt: 5_000, maxTokens: 1_000, ttftObjectiveMs: 2_000) with { SessionId = "chat" };
        Assert.Equal("lpu", AdmitOne(dispatcher, Turn("t1")));

        // Nine more turns' worth sent there by other work: the minute's 60,000 tokens are spent, and the endpoint's
        // limiter would hold the next 6,000 for 6 s, three times the turn's objective, though its slots are free.
        for (var i = 0; i < 9; i++)
        {
            dispatcher.Replicas["lpu"].Admit(Job($"other-{i}", prompt: 5_000, maxTokens: 1_000));
            dispatcher.Replicas["lpu"].Release($"other-{i}");
        }

        Assert.Equal(6_000, dispatcher.Replicas["lpu"].RateLimitWaitMs(Turn("t2")), 6);
        Assert.Equal("gpu", AdmitOne(dispatcher, Turn("t2")));

        // Once the limiter has refilled, the session stays where it last ran (now the A100).
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal("gpu", AdmitOne(dispatcher, Turn("t3")));
    }

    [Fact]
    public void AdmitWhatFits_SessionsReplicaGone_ThePolicyChooses()
    {
        var dispatcher = TwoA100s();
        var first = AdmitOne(dispatcher, Job("s1") with { SessionId = "chat" });
        dispatcher.Replicas[first].Schedulable = false;

        Assert.NotEqual(first, AdmitOne(dispatcher, Job("s2") with { SessionId = "chat" }));
    }

    // One slot each: a session's replica is full while its last job runs there.
    private static (Dispatcher Dispatcher, FakeTimeProvider Time) TwoOneSlotA100s()
    {
        var time = new FakeTimeProvider(T0);
        var dispatcher = Dispatcher.Create("round-robin", "fifo", "continuous", time: time);
        dispatcher.Replicas["a"] = Replica("a", AcceleratorProfiles.A100, maxSequences: 1);
        dispatcher.Replicas["b"] = Replica("b", AcceleratorProfiles.A100, maxSequences: 1);
        return (dispatcher, time);
    }

    [Fact]
    public void AdmitWhatFits_SessionsReplicaFull_TheJobWaitsForIt_WhileOthersGoAhead_ThenGoesElsewhereWhileAWholePrefillStillMeetsItsObjective()
    {
        var (dispatcher, time) = TwoOneSlotA100s();
        Assert.Equal("a", AdmitOne(dispatcher, Job("s1", prompt: 3_000) with { SessionId = "chat" }));

        // "a" is full; "b" is free. The next turn waits for "a"; a job queued behind it goes ahead to "b".
        dispatcher.Queue.Enqueue(Job("s2", prompt: 3_000) with { SessionId = "chat" });
        dispatcher.Queue.Enqueue(Job("x1"));
        Assert.Equal([("x1", "b")], dispatcher.AdmitWhatFits().Select(a => (a.Job.JobId, a.Replica.ReplicaId)));
        var wait = Assert.Single(dispatcher.HolderWaits);

        // It waits while an idle A100 could still prefill its 3,000 tokens within its 1 s objective: 1,000 ms less the
        // prediction for that (two steps' launches within its token budget, and 200 ms of prefill at 15,000 tokens/s).
        var prefillMs = ReplicaPrediction.IdleTtftMs(AcceleratorProfiles.A100, 3_000);
        Assert.InRange(prefillMs, 200, 400);
        Assert.Equal(("s2", "a", T0.AddMilliseconds(1_000 - prefillMs)), (wait.Job.JobId, wait.ReplicaId, wait.Until));

        // Still waiting just before its wait ends, though "b" frees.
        dispatcher.Replicas["b"].Release("x1");
        time.Advance(TimeSpan.FromMilliseconds(1_000 - prefillMs - 1));
        Assert.Empty(dispatcher.AdmitWhatFits());
        Assert.Equal("s2", Assert.Single(dispatcher.HolderWaits).Job.JobId);

        // Then it goes wherever it fits, and the session follows it.
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal([("s2", "b")], dispatcher.AdmitWhatFits().Select(a => (a.Job.JobId, a.Replica.ReplicaId)));
        Assert.Empty(dispatcher.HolderWaits);
        dispatcher.Replicas["b"].Release("s2");
        Assert.Equal("b", AdmitOne(dispatcher, Job("s3") with { SessionId = "chat" }));
    }

    [Fact]
    public void WaitEnd_AMeteredHolder_LeavesTheTimeTheSlowestKindTakesToPrefillTheWholePrompt()
    {
        // A metered endpoint's room comes back as its provider's limits allow, and the turn then goes to a GPU: an idle
        // L4 (the slowest kind here) must still make the objective, not an idle LPU.
        var replicas = new ReplicaSet
        {
            ["lpu"] = Replica("lpu", AcceleratorProfiles.Lpu, maxSequences: 1),
            ["l4"] = Replica("l4", AcceleratorProfiles.L4),
            ["h100"] = Replica("h100", AcceleratorProfiles.H100),
        };
        var job = Job("turn", prompt: 4_000, ttftObjectiveMs: 2_000) with { SessionId = "chat", EnqueuedAt = T0 };
        double Idle(AcceleratorProfile profile) => ReplicaPrediction.IdleTtftMs(profile, 4_000);

        Assert.Equal(T0.AddMilliseconds(2_000 - Idle(AcceleratorProfiles.L4)), SessionAffinity.WaitEnd(job, replicas["lpu"], replicas));
        Assert.Equal(T0.AddMilliseconds(2_000 - Idle(AcceleratorProfiles.H100)), SessionAffinity.WaitEnd(job, replicas["h100"], replicas));
        Assert.True(Idle(AcceleratorProfiles.L4) > Idle(AcceleratorProfiles.H100));

        // A prompt no idle replica of the kind could prefill in time does not wait at all.
        Assert.Equal(T0, SessionAffinity.WaitEnd(job with { TtftObjectiveMs = 10 }, replicas["h100"], replicas));
    }

    [Fact]
    public void AdmitWhatFits_SessionsReplicaFreesWithinTheWait_TheJobGoesThere()
    {
        var (dispatcher, time) = TwoOneSlotA100s();
        Assert.Equal("a", AdmitOne(dispatcher, Job("s1") with { SessionId = "chat" }));
        dispatcher.Queue.Enqueue(Job("s2") with { SessionId = "chat" });
        Assert.Empty(dispatcher.AdmitWhatFits());

        dispatcher.Replicas["a"].Release("s1");
        time.Advance(TimeSpan.FromMilliseconds(100));

        Assert.Equal([("s2", "a")], dispatcher.AdmitWhatFits().Select(a => (a.Job.JobId, a.Replica.ReplicaId)));
        Assert.Empty(dispatcher.HolderWaits);
    }

    [Fact]
    public void AdmitWhatFits_SessionsReplicaCordoned_TheJobDoesNotWait()
    {
        var (dispatcher, _) = TwoOneSlotA100s();
        Assert.Equal("a", AdmitOne(dispatcher, Job("s1") with { SessionId = "chat" }));
        Assert.Equal("b", AdmitOne(dispatcher, Job("t1") with { SessionId = "other" }));
        dispatcher.Replicas["b"].Release("t1");

        dispatcher.Replicas["a"].Schedulable = false;
        Assert.Equal("b", AdmitOne(dispatcher, Job("s2") with { SessionId = "chat" }));
        Assert.Empty(dispatcher.HolderWaits);

    }

    [Fact]
    public void AdmitWhatFits_ATurnLargerThanItsSessionsReplicaCouldEverHold_DoesNotWait()
    {
        var dispatcher = Dispatcher.Create("round-robin", "fifo", "continuous");
        dispatcher.Replicas["c"] = Replica("c", AcceleratorProfiles.A100, maxSequences: 1, kvCapacityTokens: 1_000);
        Assert.Equal("c", AdmitOne(dispatcher, Job("u1", prompt: 500, maxTokens: 100) with { SessionId = "small" }));
        dispatcher.Replicas["d"] = Replica("d", AcceleratorProfiles.A100, maxSequences: 1);

        Assert.Equal("d", AdmitOne(dispatcher, Job("u2", prompt: 5_000, maxTokens: 100) with { SessionId = "small" }));
        Assert.Empty(dispatcher.HolderWaits);
    }

    [Fact]
    public void Placed_AtCapacity_ForgetsTheLeastRecentlyPlacedSession_AReplacedOneCountsAsRecent()
    {
        var affinity = new SessionAffinity();
        var replicas = new Scheduler.Policies.Placement.ReplicaSet { ["a"] = Replica("a", AcceleratorProfiles.A100), ["b"] = Replica("b", AcceleratorProfiles.A100) };
        JobDemand Turn(string session) => Job("t-" + session, prompt: 100, maxTokens: 10) with { SessionId = session };
        affinity.Placed(Turn("first"), replicas["a"], T0);
        affinity.Placed(Turn("second"), replicas["a"], T0);

        // "first" placed again, now on b: it moves to the front, and its replica is b.
        affinity.Placed(Turn("first"), replicas["b"], T0);
        for (var i = 2; i < SessionAffinity.Capacity; i++)
        {
            affinity.Placed(Turn($"s{i}"), replicas["a"], T0);
        }

        Assert.Equal(SessionAffinity.Capacity, affinity.Count);
        affinity.Placed(Turn("one-more"), replicas["a"], T0);

        Assert.Equal(SessionAffinity.Capacity, affinity.Count);
        Assert.Null(affinity.Preferred(Turn("second"), replicas));
        Assert.Equal("b", affinity.Preferred(Turn("first"), replicas)?.ReplicaId);
    }

    [Fact]
    public void Placed_CountsASessionsContextOnItsReplica_MovesItWithTheSession_UntilIdleLongerThanLiveFor()
    {
        var affinity = new SessionAffinity();
        var a = Replica("a", AcceleratorProfiles.A100);
        var b = Replica("b", AcceleratorProfiles.A100);
        JobDemand Turn(string session, int prompt) => Job($"t-{session}-{prompt}", prompt: prompt, maxTokens: 10) with { SessionId = session };

        affinity.Placed(Turn("chat", 2_000), a, T0);
        affinity.Placed(Turn("other", 500), a, T0.AddSeconds(1));
        Assert.Equal(2_500, a.LiveSessionTokens);

        // The chat's next turn, a longer context, on b: it counts there, with its new length, and no longer on a.
        affinity.Placed(Turn("chat", 2_500), b, T0.AddSeconds(20));
        Assert.Equal(500, a.LiveSessionTokens);
        Assert.Equal(2_500, b.LiveSessionTokens);

        // "other" has been idle for LiveFor exactly: still live; past it, not, but still remembered for affinity.
        affinity.Expire(T0.AddSeconds(1) + SessionAffinity.LiveFor);
        Assert.Equal(500, a.LiveSessionTokens);
        affinity.Expire(T0.AddSeconds(1.001) + SessionAffinity.LiveFor);
        Assert.Equal(0, a.LiveSessionTokens);
        Assert.Equal(2_500, b.LiveSessionTokens);
        var replicas = new Scheduler.Policies.Placement.ReplicaSet { ["a"] = a, ["b"] = b };
        Assert.Equal("a", affinity.Preferred(Turn("other", 600), replicas)?.ReplicaId);

        // Placed again after its idle spell, it counts again; a job without a session counts nowhere.
        affinity.Placed(Turn("other", 600), a, T0.AddSeconds(60));
        affinity.Placed(Job("plain", prompt: 900, maxTokens: 10), a, T0.AddSeconds(60));
        Assert.Equal(600, a.LiveSessionTokens);
    }
}
