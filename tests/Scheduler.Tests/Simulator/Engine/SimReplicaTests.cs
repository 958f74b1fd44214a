using Scheduler.Policies.Placement;
using Scheduler.Policies.Profiles;
using Scheduler.Simulator.Engine;

namespace Scheduler.Tests.Simulator.Engine;

public sealed class SimReplicaTests
{
    private const int Precision = 9;

    [Fact]
    public void ProvisionedSeconds_StaticReplica_IsPaidForTheWholeSpan()
    {
        Assert.Equal(600, Replica().ProvisionedSeconds(0, 600_000), Precision);
    }

    [Fact]
    public void ProvisionedSeconds_PaysTheColdStart_AndTheDrainUntilReleased()
    {
        var replica = Replica();
        replica.Unprovision();
        Assert.Equal(0, replica.ProvisionedSeconds(0, 600_000), Precision);

        // Asked for at 100 s with a 120 s cold start: paid from 100 s, though it takes work only from 220 s.
        replica.Provision(100_000, 220_000);
        Assert.False(replica.ReadyAt(200_000));
        Assert.True(replica.ReadyAt(220_000));
        Assert.Equal(100, replica.ProvisionedSeconds(0, 200_000), Precision);

        // Told to drain at 400 s and released once empty at 450 s: paid until the release, not until it was told.
        replica.Draining = true;
        Assert.False(replica.ReadyAt(400_000));
        Assert.Equal(300, replica.ProvisionedSeconds(0, 400_000), Precision);
        replica.Release(450_000);
        Assert.False(replica.Provisioned);
        Assert.Equal(350, replica.ProvisionedSeconds(0, 600_000), Precision);
    }

    [Fact]
    public void ProvisionedSeconds_AskedForAfterTheSpanEnds_CountsNothingRatherThanANegativeTime()
    {
        var replica = Replica();
        replica.Unprovision();
        replica.Provision(700_000, 820_000);

        Assert.Equal(0, replica.ProvisionedSeconds(0, 600_000), Precision);
    }

    private static SimReplica Replica()
    {
        var profile = AcceleratorProfiles.L4;
        return new SimReplica(new ReplicaView("L4-0", "node-L4-0", "acc-L4-0", profile, profile.MaxSequences, profile.KvCapacityTokens));
    }
}
