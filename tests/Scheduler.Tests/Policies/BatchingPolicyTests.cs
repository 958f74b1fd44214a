using Scheduler.Policies.Batching;
using Scheduler.Policies.Dispatch;
using Scheduler.Policies.Placement;
using Scheduler.Policies.Profiles;
using static Scheduler.Tests.Policies.PolicyFixtures;

namespace Scheduler.Tests.Policies;

/// <summary>The batching rule as the dispatcher applies it in each admission round.</summary>
public sealed class BatchingPolicyTests
{
    private static (Dispatcher Dispatcher, ReplicaView Empty, ReplicaView Busy) Fleet(string batching)
    {
        var dispatcher = Dispatcher.Create("least-outstanding", "fifo", batching);
        var busy = Replica("busy", AcceleratorProfiles.H100, maxSequences: 4);
        busy.Admit(Job("b1"));
        var empty = Replica("empty", AcceleratorProfiles.H100, maxSequences: 4);
        dispatcher.Replicas["busy"] = busy;
        dispatcher.Replicas["empty"] = empty;
        return (dispatcher, empty, busy);
    }

    private static string[] Round(Dispatcher dispatcher, params string[] jobIds)
    {
        foreach (var id in jobIds)
        {
            dispatcher.Queue.Enqueue(Job(id));
        }

        return [.. dispatcher.AdmitWhatFits().Select(a => $"{a.Job.JobId}@{a.Replica.ReplicaId}")];
    }

    [Fact]
    public void Continuous_AcceptsAlways_EvenIntoRunningBatch()
    {
        var (dispatcher, _, _) = Fleet("continuous");

        // Least-outstanding spreads the jobs over both replicas: the busy one takes jobs while it runs.
        Assert.Equal(["j1@empty", "j2@busy", "j3@empty", "j4@busy"], Round(dispatcher, "j1", "j2", "j3", "j4"));
    }

    [Fact]
    public void RequestLevel_AcceptsOnlyWhenBatchIsEmpty_BatchIsWhatFitsInThatRound()
    {
        var (dispatcher, empty, _) = Fleet("request-level");

        Assert.Equal(["j1@empty", "j2@empty", "j3@empty", "j4@empty"], Round(dispatcher, "j1", "j2", "j3", "j4", "j5"));
        Assert.Equal(4, empty.RunningSequences);
        Assert.Equal(1, dispatcher.Queue.Count);
    }

    [Fact]
    public void RequestLevel_RunningBatchWaits_AcceptsAgainOnceItDrains()
    {
        var (dispatcher, empty, busy) = Fleet("request-level");
        Assert.Equal(["j1@empty"], Round(dispatcher, "j1"));
        Assert.Empty(Round(dispatcher, "j2")); // both batches run; slots are free, but neither takes more

        busy.Release("b1");
        Assert.Equal(["j2@busy"], Round(dispatcher));
        Assert.Empty(Round(dispatcher, "j3"));

        empty.Release("j1");
        Assert.Equal(["j3@empty"], Round(dispatcher));
    }

    [Fact]
    public void Names_AreTheConfigurationNames_AndSayWhetherRunningBatchesJoin()
    {
        Assert.Equal("continuous", new ContinuousBatching().Name);
        Assert.Equal("request-level", new RequestLevelBatching().Name);
        Assert.True(new ContinuousBatching().JoinsRunningBatches);
        Assert.False(new RequestLevelBatching().JoinsRunningBatches);
    }
}
