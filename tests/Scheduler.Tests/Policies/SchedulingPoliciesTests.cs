using Scheduler.Policies;
using Scheduler.Policies.Batching;
using Scheduler.Policies.Fairness;
using Scheduler.Policies.Placement;
using Scheduler.Policies.Profiles;
using static Scheduler.Tests.Policies.PolicyFixtures;

namespace Scheduler.Tests.Policies;

public sealed class SchedulingPoliciesTests
{
    [Theory]
    [InlineData("cost-aware", typeof(CostAwarePlacement))]
    [InlineData("round-robin", typeof(RoundRobinPlacement))]
    [InlineData("Cost-Aware", typeof(CostAwarePlacement))]
    public void CreatePlacement_KnownName_CreatesThatPolicy(string name, Type expected)
    {
        var policy = SchedulingPolicies.CreatePlacement(name);

        Assert.IsType(expected, policy);
        Assert.Equal(name, policy.Name, ignoreCase: true);
    }

    [Theory]
    [InlineData("weighted-fair")]
    [InlineData("WEIGHTED-FAIR")]
    public void CreateFairQueue_KnownName_CreatesWeightedFairQueue(string name)
    {
        var queue = SchedulingPolicies.CreateFairQueue(name);

        Assert.IsType<WeightedFairQueue>(queue);
        Assert.Equal("weighted-fair", queue.Name);
    }

    [Theory]
    [InlineData("continuous", typeof(ContinuousBatching))]
    [InlineData("request-level", typeof(RequestLevelBatching))]
    public void CreateBatching_KnownName_CreatesThatPolicy(string name, Type expected)
    {
        var policy = SchedulingPolicies.CreateBatching(name);

        Assert.IsType(expected, policy);
        Assert.Equal(name, policy.Name);
    }

    [Fact]
    public void CreatePlacement_UnknownName_ThrowsListingKnownNames()
    {
        var error = Assert.Throws<ArgumentException>(() => SchedulingPolicies.CreatePlacement("least-loaded"));

        Assert.Equal("name", error.ParamName);
        Assert.Contains("least-loaded", error.Message);
        Assert.Contains("cost-aware", error.Message);
        Assert.Contains("round-robin", error.Message);
    }

    [Fact]
    public void CreateFairQueue_UnknownName_ThrowsListingKnownNames()
    {
        var error = Assert.Throws<ArgumentException>(() => SchedulingPolicies.CreateFairQueue("lottery"));

        Assert.Contains("weighted-fair", error.Message);
        Assert.Contains("fifo", error.Message);
    }

    [Fact]
    public void CreateBatching_UnknownName_ThrowsListingKnownNames()
    {
        var error = Assert.Throws<ArgumentException>(() => SchedulingPolicies.CreateBatching("static"));

        Assert.Contains("continuous", error.Message);
        Assert.Contains("request-level", error.Message);
    }

    [Fact]
    public void Defaults_AreKnownNames_AndNamesAreListed()
    {
        Assert.Contains(SchedulingPolicies.DefaultPlacement, SchedulingPolicies.PlacementNames);
        Assert.Contains(SchedulingPolicies.DefaultFairness, SchedulingPolicies.FairnessNames);
        Assert.Contains(SchedulingPolicies.DefaultBatching, SchedulingPolicies.BatchingNames);
        Assert.Equal(["cost-aware", "least-outstanding", "power-of-two", "prefix-only", "queue-kv", "round-robin"], SchedulingPolicies.PlacementNames.Order());
        Assert.Equal(["fifo", "weighted-fair"], SchedulingPolicies.FairnessNames.Order());
        Assert.Equal(["continuous", "request-level"], SchedulingPolicies.BatchingNames.Order());
    }

    [Fact]
    public void Create_ReturnsFreshInstances_SoStateIsNotShared()
    {
        var fleet = new List<ReplicaView> { Replica("a", AcceleratorProfiles.H100), Replica("b", AcceleratorProfiles.H100) };
        var first = SchedulingPolicies.CreatePlacement("round-robin");
        var second = SchedulingPolicies.CreatePlacement("round-robin");

        Assert.NotSame(first, second);
        Assert.Equal("a", first.Choose(Job("1"), fleet)?.ReplicaId);
        Assert.Equal("a", second.Choose(Job("2"), fleet)?.ReplicaId);
        Assert.NotSame(SchedulingPolicies.CreateFairQueue("weighted-fair"), SchedulingPolicies.CreateFairQueue("weighted-fair"));
    }
}
