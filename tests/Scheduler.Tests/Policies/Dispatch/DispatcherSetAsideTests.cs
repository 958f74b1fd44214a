using Microsoft.Extensions.Time.Testing;
using Scheduler.Policies;
using Scheduler.Policies.Dispatch;
using Scheduler.Policies.Placement;
using Scheduler.Policies.Profiles;
using static Scheduler.Tests.Policies.PolicyFixtures;

namespace Scheduler.Tests.Policies.Dispatch;

/// <summary>Strict priority between classes: a job of a higher class that has room nowhere has a replica set aside for it,
/// so jobs of lower classes cannot take the room that replica frees, one sequence at a time, for ever.</summary>
public sealed class DispatcherSetAsideTests
{
    // The fixtures' jobs were enqueued at T0; the clock starts there, so none has waited until a test moves it.
    private readonly FakeTimeProvider _time = new(T0);

    private Dispatcher Create(string fairness = "weighted-fair", int maxPreemptions = 0) =>
        Dispatcher.Create("cost-aware", fairness, "continuous", maxPreemptions: maxPreemptions, time: _time);

    // Four running sequences of 2,000 KV tokens on a 10,000-token replica: 2,000 free.
    private static ReplicaView FilledReplica(Dispatcher dispatcher, string id)
    {
        var replica = Replica(id, AcceleratorProfiles.H100, maxSequences: 8, kvCapacityTokens: 10_000);
        dispatcher.Replicas[id] = replica;
        for (var i = 0; i < 4; i++)
        {
            replica.Admit(Job($"{id}-running-{i}", tenant: "b", prompt: 1_000, maxTokens: 1_000));
        }

        return replica;
    }

    private static void EnqueueStandardTraffic(Dispatcher dispatcher, int count)
    {
        for (var i = 0; i < count; i++)
        {
            dispatcher.Queue.Enqueue(Job($"standard-{i}", tenant: "b", prompt: 500, maxTokens: 500));
        }
    }

    [Fact]
    public void AdmitWhatFits_ACriticalJobWithoutRoom_IsNotOvertakenByStandardJobsTakingTheRoomAsItFrees()
    {
        var dispatcher = Create();
        var replica = FilledReplica(dispatcher, "h100");
        dispatcher.Queue.Enqueue(Job("critical", tenant: "a", prompt: 4_000, maxTokens: 1_000, priority: JobPriority.Critical));
        EnqueueStandardTraffic(dispatcher, 20);

        // The standard jobs fit the 2,000 tokens free, the critical one needs 5,000: the replica is set aside for it.
        Assert.Empty(dispatcher.AdmitWhatFits());
        Assert.Equal("critical", replica.SetAsideFor);
        Assert.Equal("critical", dispatcher.SetAside?.Job.JobId);

        // Its sequences end one by one; the room they free is not taken by the standard traffic.
        replica.Release("h100-running-0");
        Assert.Empty(dispatcher.AdmitWhatFits());
        replica.Release("h100-running-1");
        var admitted = dispatcher.AdmitWhatFits();

        // 6,000 free: the critical job first, then the standard jobs into what is left.
        Assert.Equal("critical", admitted[0].Job.JobId);
        Assert.Equal(["standard-0"], admitted.Skip(1).Select(a => a.Job.JobId));
        Assert.Null(replica.SetAsideFor);
        Assert.Null(dispatcher.SetAside);
    }

    [Fact]
    public void AdmitWhatFits_WithAReplicaSetAside_TheOthersGoOnServingTheLowerClasses()
    {
        var dispatcher = Create();
        var first = FilledReplica(dispatcher, "first");
        var second = FilledReplica(dispatcher, "second");
        second.Release("second-running-0");
        dispatcher.Queue.Enqueue(Job("critical", tenant: "a", prompt: 6_000, maxTokens: 1_000, priority: JobPriority.Critical));
        EnqueueStandardTraffic(dispatcher, 20);

        var admitted = dispatcher.AdmitWhatFits();

        // The one closest to room for it (4,000 free against 2,000) is set aside; the other takes two standard jobs.
        Assert.Equal("critical", second.SetAsideFor);
        Assert.Null(first.SetAsideFor);
        Assert.Equal(["first", "first"], admitted.Select(a => a.Replica.ReplicaId));
        Assert.Equal(3, second.RunningSequences);
    }

    [Fact]
    public void AdmitWhatFits_TheJobSetAsideForIsCancelled_TheReplicaServesTheOthersAgain()
    {
        var dispatcher = Create();
        var replica = FilledReplica(dispatcher, "h100");
        dispatcher.Queue.Enqueue(Job("critical", tenant: "a", prompt: 4_000, maxTokens: 1_000, priority: JobPriority.Critical));
        EnqueueStandardTraffic(dispatcher, 5);
        Assert.Empty(dispatcher.AdmitWhatFits());

        Assert.True(dispatcher.Queue.Remove("critical"));
        var admitted = dispatcher.AdmitWhatFits();

        Assert.Null(replica.SetAsideFor);
        Assert.Equal(["standard-0", "standard-1"], admitted.Select(a => a.Job.JobId));
    }

    [Fact]
    public void AdmitWhatFits_SameClassOnly_SmallJobsStillFillRoomABigOneCannot()
    {
        // Within a class the queue keeps its work conservation while the big job has not waited long: nothing is set aside.
        var dispatcher = Create();
        var replica = FilledReplica(dispatcher, "h100");
        dispatcher.Queue.Enqueue(Job("big", tenant: "a", prompt: 4_000, maxTokens: 1_000));
        EnqueueStandardTraffic(dispatcher, 5);
        _time.Advance(Dispatcher.DefaultSetAsideWithinClassAfter - TimeSpan.FromMilliseconds(1));

        var admitted = dispatcher.AdmitWhatFits();

        Assert.Null(replica.SetAsideFor);
        Assert.Equal(["standard-0", "standard-1"], admitted.Select(a => a.Job.JobId));
    }

    [Fact]
    public void AdmitWhatFits_ABigJobOvertakenByItsClassUntilItHasWaitedLong_HasAReplicaSetAside_AndRunsOnceItDrains()
    {
        // Steady traffic of small standard jobs takes each sequence's room as it frees: the big one never has 5,000 free.
        var dispatcher = Create();
        var replica = FilledReplica(dispatcher, "h100");
        dispatcher.Queue.Enqueue(Job("big", tenant: "a", prompt: 4_000, maxTokens: 1_000));
        EnqueueStandardTraffic(dispatcher, 40);
        var admittedBefore = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            admittedBefore.AddRange(dispatcher.AdmitWhatFits().Select(a => a.Job.JobId));
            _time.Advance(TimeSpan.FromSeconds(2));
            replica.Release(replica.RunningJobIds.First());
        }

        Assert.DoesNotContain("big", admittedBefore);
        Assert.Null(replica.SetAsideFor);

        // Past the bound the replica is set aside for it: the room its sequences free is no longer taken.
        _time.Advance(Dispatcher.DefaultSetAsideWithinClassAfter);
        Assert.Empty(dispatcher.AdmitWhatFits());
        Assert.Equal("big", replica.SetAsideFor);
        var admitted = new List<string>();
        while (!admitted.Contains("big"))
        {
            Assert.NotEmpty(replica.RunningJobIds);
            replica.Release(replica.RunningJobIds.First());
            admitted.AddRange(dispatcher.AdmitWhatFits().Select(a => a.Job.JobId));
        }

        Assert.Equal("big", admitted[0]);
        Assert.Null(replica.SetAsideFor);
    }

    [Fact]
    public void AdmitWhatFits_WithAgingTurnedOff_TheBigJobIsOvertakenHoweverLongItWaits()
    {
        var dispatcher = Dispatcher.Create("cost-aware", "weighted-fair", "continuous", time: _time, setAsideWithinClassAfter: TimeSpan.Zero);
        var replica = FilledReplica(dispatcher, "h100");
        dispatcher.Queue.Enqueue(Job("big", tenant: "a", prompt: 4_000, maxTokens: 1_000));
        EnqueueStandardTraffic(dispatcher, 5);
        _time.Advance(TimeSpan.FromHours(1));

        var admitted = dispatcher.AdmitWhatFits();

        Assert.Null(replica.SetAsideFor);
        Assert.Equal(["standard-0", "standard-1"], admitted.Select(a => a.Job.JobId));
    }

    [Fact]
    public void AdmitWhatFits_UnderFifo_WhichHasNoClasses_NothingIsSetAside()
    {
        var dispatcher = Create(fairness: "fifo");
        var replica = FilledReplica(dispatcher, "h100");
        dispatcher.Queue.Enqueue(Job("critical", tenant: "a", prompt: 4_000, maxTokens: 1_000, priority: JobPriority.Critical));
        EnqueueStandardTraffic(dispatcher, 5);

        var admitted = dispatcher.AdmitWhatFits();

        Assert.Null(replica.SetAsideFor);
        Assert.Equal(2, admitted.Count);
    }

    [Fact]
    public void AdmitWhatFits_NoReplicaCouldEverHoldTheJob_NothingIsSetAside()
    {
        var dispatcher = Create();
        var replica = FilledReplica(dispatcher, "h100");
        dispatcher.Queue.Enqueue(Job("critical", tenant: "a", prompt: 20_000, maxTokens: 1_000, priority: JobPriority.Critical));
        EnqueueStandardTraffic(dispatcher, 5);

        var admitted = dispatcher.AdmitWhatFits();

        Assert.Null(replica.SetAsideFor);
        Assert.Equal(2, admitted.Count);
    }

    [Fact]
    public void AdmitWhatFits_ACordonedReplicaSetAside_IsReleased_AndAnotherSetAside()
    {
        var dispatcher = Create();
        var first = FilledReplica(dispatcher, "first");
        var second = FilledReplica(dispatcher, "second");
        first.Release("first-running-0");
        dispatcher.Queue.Enqueue(Job("critical", tenant: "a", prompt: 6_000, maxTokens: 1_000, priority: JobPriority.Critical));
        EnqueueStandardTraffic(dispatcher, 20);
        dispatcher.AdmitWhatFits();
        Assert.Equal("critical", first.SetAsideFor);

        // The second replica took two standard jobs meanwhile (it is full); once it frees room, it is set aside instead.
        first.Schedulable = false;
        second.Release("second-running-0");
        var admitted = dispatcher.AdmitWhatFits();

        Assert.Null(first.SetAsideFor);
        Assert.Equal("critical", second.SetAsideFor);
        Assert.Empty(admitted);
    }

    [Fact]
    public void PickVictim_NeverStopsASequenceOnAReplicaSetAsideForAnotherJob()
    {
        var dispatcher = Create(maxPreemptions: 2);
        var replica = FilledReplica(dispatcher, "h100");
        dispatcher.Queue.Enqueue(Job("critical", tenant: "a", prompt: 4_000, maxTokens: 1_000, priority: JobPriority.Critical));
        EnqueueStandardTraffic(dispatcher, 5);
        dispatcher.AdmitWhatFits();
        Assert.Equal("critical", replica.SetAsideFor);

        // A sheddable sequence there could be stopped for a standard job of a higher class, but not on a replica set aside.
        replica.Release("h100-running-3");
        replica.Admit(Job("shed", tenant: "c", prompt: 1_000, maxTokens: 1_000, priority: JobPriority.Sheddable));
        var standard = Job("standard-x", tenant: "d", prompt: 500, maxTokens: 500);

        Assert.Null(Preemption.PickVictim(standard, dispatcher.Replicas, _ => 1, _ => 0, maxPreemptions: 2));
        replica.SetAsideFor = null;
        Assert.Equal("shed", Preemption.PickVictim(standard, dispatcher.Replicas, _ => 1, _ => 0, maxPreemptions: 2)?.Victim.JobId);
    }
}
