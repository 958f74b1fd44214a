using Scheduler.Grains;

namespace Scheduler.Tests.Grains.Fleet;

/// <summary>The grain tests' silo with a node lease short enough to watch lapse: tests heartbeat the nodes they keep.</summary>
public sealed class ShortLeaseClusterFixture : GrainClusterFixture
{
    public static readonly TimeSpan Lease = TimeSpan.FromSeconds(1.5);
    public static readonly TimeSpan HeartbeatInterval = TimeSpan.FromMilliseconds(250);

    protected override void Configure(PlacementOptions options)
    {
        base.Configure(options);
        options.NodeLease = Lease;
        options.HeartbeatInterval = HeartbeatInterval;
    }
}

[CollectionDefinition(Name)]
public sealed class ShortLeaseClusterCollection : ICollectionFixture<ShortLeaseClusterFixture>
{
    public const string Name = "grain-cluster-short-lease";
}
