using Scheduler.Policies;
using Scheduler.Policies.Fairness;
using Scheduler.Policies.Placement;
using Scheduler.Policies.Profiles;
using static Scheduler.Tests.Policies.PolicyFixtures;

namespace Scheduler.Tests.Policies;

/// <summary>The baseline policies are selectable by name like the built-in ones.</summary>
public sealed class BaselinePolicyFactoryTests
{
    [Theory]
    [InlineData("least-outstanding", typeof(LeastOutstandingPlacement))]
    [InlineData("power-of-two", typeof(PowerOfTwoPlacement))]
    [InlineData("queue-kv", typeof(QueueKvPlacement))]
    [InlineData("Least-Outstanding", typeof(LeastOutstandingPlacement))]
    [InlineData("POWER-OF-TWO", typeof(PowerOfTwoPlacement))]
    public void CreatePlacement_BaselineName_CreatesThatPolicy(string name, Type expected)
    {
        var policy = SchedulingPolicies.CreatePlacement(name);

        Assert.IsType(expected, policy);
        Assert.Equal(name, policy.Name, ignoreCase: true);
    }

    [Fact]
    public void CreatePlacement_ListsBaselines()
    {
        foreach (var name in new[] { "cost-aware", "round-robin", "least-outstanding", "power-of-two", "queue-kv" })
        {
            Assert.Contains(name, SchedulingPolicies.PlacementNames);
        }

        Assert.Contains("fifo", SchedulingPolicies.FairnessNames);
    }

    [Fact]
    public void CreatePlacement_PowerOfTwo_WithSeededRandom_IsReproducible()
    {
        var fleet = new List<ReplicaView>();
        for (var i = 0; i < 6; i++)
        {
            var replica = Replica($"r{i}", AcceleratorProfiles.H100);
            AddDecodingLoad(replica, (i * 5) % 7);
            fleet.Add(replica);
        }

        var first = SchedulingPolicies.CreatePlacement("power-of-two", new Random(5));
        var second = SchedulingPolicies.CreatePlacement("power-of-two", new Random(5));

        Assert.NotSame(first, second);
        Assert.Equal(
            Enumerable.Range(0, 100).Select(i => first.Choose(Job($"j{i}"), fleet)!.ReplicaId),
            Enumerable.Range(0, 100).Select(i => second.Choose(Job($"j{i}"), fleet)!.ReplicaId));
    }

    [Fact]
    public void CreatePlacement_PowerOfTwo_WithoutRandom_UsesSharedRandom()
    {
        var policy = SchedulingPolicies.CreatePlacement("power-of-two");
        var fleet = new List<ReplicaView> { Replica("a", AcceleratorProfiles.H100), Replica("b", AcceleratorProfiles.H100) };

        Assert.NotNull(policy.Choose(Job("j"), fleet));
    }

    [Theory]
    [InlineData("fifo")]
    [InlineData("FIFO")]
    public void CreateFairQueue_Fifo_CreatesFifoQueue(string name)
    {
        var queue = SchedulingPolicies.CreateFairQueue(name);

        Assert.IsType<FifoQueue>(queue);
        Assert.Equal("fifo", queue.Name);
        Assert.NotSame(queue, SchedulingPolicies.CreateFairQueue(name));
    }
}
