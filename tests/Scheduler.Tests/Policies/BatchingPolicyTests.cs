using Scheduler.Policies.Batching;
using Scheduler.Policies.Placement;
using Scheduler.Policies.Profiles;
using static Scheduler.Tests.Policies.PolicyFixtures;

namespace Scheduler.Tests.Policies;

public sealed class BatchingPolicyTests
{
    private static (ReplicaView Empty, ReplicaView Busy, ReplicaView Full) Fleet()
    {
        var empty = Replica("empty", AcceleratorProfiles.H100, maxSequences: 2);
        var busy = Replica("busy", AcceleratorProfiles.H100, maxSequences: 2);
        busy.Admit(Job("b1"));
        var full = Replica("full", AcceleratorProfiles.H100, maxSequences: 2);
        full.Admit(Job("f1"));
        full.Admit(Job("f2"));
        foreach (var replica in new[] { empty, busy, full })
        {
            replica.AcceptingAdmissions = false;
        }

        return (empty, busy, full);
    }

    [Fact]
    public void Continuous_AcceptsAlways_EvenIntoRunningBatch()
    {
        var (empty, busy, full) = Fleet();

        new ContinuousBatching().BeginRound([empty, busy, full]);

        Assert.True(empty.AcceptingAdmissions);
        Assert.True(busy.AcceptingAdmissions);
        Assert.True(full.AcceptingAdmissions); // room is the placement's business (Fits), not the batching policy's
    }

    [Fact]
    public void RequestLevel_AcceptsOnlyWhenBatchIsEmpty()
    {
        var (empty, busy, full) = Fleet();
        var policy = new RequestLevelBatching();

        policy.BeginRound([empty, busy, full]);

        Assert.True(empty.AcceptingAdmissions);
        Assert.False(busy.AcceptingAdmissions);
        Assert.False(full.AcceptingAdmissions);
    }

    [Fact]
    public void RequestLevel_AcceptsAgainOnceBatchDrains()
    {
        var (_, busy, _) = Fleet();
        var policy = new RequestLevelBatching();
        policy.BeginRound([busy]);
        Assert.False(busy.AcceptingAdmissions);

        busy.Release("b1");
        policy.BeginRound([busy]);

        Assert.True(busy.AcceptingAdmissions);
    }

    [Fact]
    public void Names_AreTheConfigurationNames()
    {
        Assert.Equal("continuous", new ContinuousBatching().Name);
        Assert.Equal("request-level", new RequestLevelBatching().Name);
    }
}
