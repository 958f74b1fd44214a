using Scheduler.Abstractions.Placement;
using Scheduler.Silo.Api;

namespace Scheduler.Tests.Silo.Api;

public sealed class CapacityMappingTests
{
    private static PoolCapacity Pool(int replicas, int wanted, double busy, bool metered = false, int max = 8) =>
        new("l4-spot", replicas, wanted, max, busy, 120, metered, 0.7, "L4");

    [Fact]
    public void Reason_SaysWhyEachPoolWantsWhatItWants()
    {
        var busy = new CapacitySnapshot(60, 100, 2000, 500, 4000, 0.5, [], 100, 300);
        var bursty = busy with { PeakPromptTokensPerSecond = 2500 };
        var idle = new CapacitySnapshot(60, 0, 0, 0, 0, double.NaN, [], 0, 300);

        Assert.Equal("metered (paid per token): not provisioned, keeps its 2", CapacityMapping.Reason(busy, Pool(2, 2, 0, metered: true)));
        Assert.Equal("scale down: idle (nothing submitted in the last 60 s, nothing queued)", CapacityMapping.Reason(idle, Pool(1, 0, 0)));
        Assert.Equal("scale down: idle (nothing submitted in the last 60 s, nothing queued); keeps a warm floor of 1", CapacityMapping.Reason(idle, Pool(2, 1, 0)));
        Assert.Equal("scale down: cheaper pools per unit of load take it all", CapacityMapping.Reason(busy, Pool(1, 0, 0)));
        Assert.Equal(
            "scale up: 9.5 replicas busy for 100 prompt + 2000 output tok/s and 4500 queued tokens over a 120 s cold start, at 70% utilisation; recent TTFT attainment 50% (capped at 8)",
            CapacityMapping.Reason(busy, Pool(1, 8, 9.5)));
        Assert.Equal(
            "scale up: 1.5 replicas busy for 100 prompt + 2000 output tok/s and 4500 queued tokens over a 120 s cold start, at 70% utilisation; prefill sized for 2500 prompt tok/s, what the last 300 s's bursts needed to meet their TTFT objectives; recent TTFT attainment 50%",
            CapacityMapping.Reason(bursty, Pool(1, 3, 1.5)));
    }

    [Fact]
    public void ToProto_LeavesAttainmentAbsent_WhenNoFirstTokenCame()
    {
        var message = new CapacitySnapshot(60, 0, 0, 0, 0, double.NaN, [Pool(1, 0, 0)], 40, 300).ToProto("m");

        Assert.False(message.HasTtftAttainment);
        Assert.Equal((40.0, 300.0), (message.PeakPromptTokensPerSecond, message.PeakLookbackSeconds));
        Assert.Equal(("m", "l4-spot", "L4", 1, 0),
            (message.Model, message.Pools.Single().Pool, message.Pools.Single().Product, message.Pools.Single().Replicas, message.Pools.Single().WantedReplicas));
    }
}
