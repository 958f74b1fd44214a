using Scheduler.Grains.Placement;

namespace Scheduler.Tests.Grains.Placement;

public sealed class ReplicaLinksTests
{
    [Fact]
    public void Bind_SaysWhenTheReplicaMovedStreams_AndReportsFromTheOldOneAreStale()
    {
        var links = new ReplicaLinks();

        Assert.False(links.Bind("r", "link-1"));
        Assert.False(links.Bind("r", "link-1"));
        Assert.True(links.Bind("r", "link-2"));

        Assert.True(links.IsStale("r", "link-1"));
        Assert.False(links.IsStale("r", "link-2"));
        Assert.False(links.IsStale("r", null));          // jobs that never reached a stream
        Assert.True(links.IsStale("unknown", "link-1"));
    }
}
