using Scheduler.Policies.Capacity;
using Scheduler.Policies.Profiles;

namespace Scheduler.Tests.Policies.Capacity;

public sealed class CapacityPolicyTests
{
    private const double Tolerance = 1e-9;
    private static readonly TimeSpan s_minute = TimeSpan.FromMinutes(1);

    // An L4 prefills its 1,024-token step budget in 55 ms of launch + 176.6 ms: 4,422 tok/s, not its nominal 5,800.
    private static readonly double s_l4Prefill = 1_024 / ((55 + (1_024 / 5.8)) / 1_000);

    [Fact]
    public void Want_NoDemand_KeepsOnlyTheWarmFloor_InThePoolCheapestPerPromptToken_AndLeavesMeteredPoolsAsTheyAre()
    {
        // L4: $0.805/h for 4,422 prompt tok/s beats the H100's $12.29/h for 44,014, whatever order they come in.
        PoolState[] pools = [Pool(AcceleratorProfiles.H100, replicas: 2, max: 4), Pool(AcceleratorProfiles.L4, replicas: 3, max: 8), Pool(AcceleratorProfiles.Lpu, replicas: 1, max: 1)];

        Assert.Equal([("H100", 0), ("L4", 1), ("LPU", 1)], new CapacityPolicy().Want(Demand(0, 0), pools).Select(w => (w.Pool, w.Replicas)));
        Assert.Equal([("H100", 0), ("L4", 0), ("LPU", 1)], new CapacityPolicy(warmFloor: 0).Want(Demand(0, 0), pools).Select(w => (w.Pool, w.Replicas)));
    }

    [Fact]
    public void Want_FillsTheCheapestPoolPerUnitOfLoadFirst()
    {
        // One L4's prefill (one busy replica, $0.805/h) is 0.10 of an H100's ($1.23/h): the L4s take it all, at 70%
        // utilisation → 2 replicas; the dearer H100s none. Listed H100 first: order is by cost.
        var wants = Seventy().Want(Demand(s_l4Prefill, 0), [Pool(AcceleratorProfiles.H100, 0, 4), Pool(AcceleratorProfiles.L4, 0, 16)]);

        Assert.Equal([("H100", 0), ("L4", 2)], wants.Select(w => (w.Pool, w.Replicas)));
        Assert.Equal(1.0, wants[1].BusyReplicas, Tolerance);
    }

    [Fact]
    public void Want_CheapestPoolFull_OverflowsToTheNext()
    {
        // One L4 at most: it takes 70% of the load; the remaining 30% is 0.3 × 4,422 tok/s on H100s → 1 replica.
        var wants = Seventy().Want(Demand(s_l4Prefill, 0), [Pool(AcceleratorProfiles.L4, 0, 1), Pool(AcceleratorProfiles.H100, 0, 4)]);

        Assert.Equal([("L4", 1), ("H100", 1)], wants.Select(w => (w.Pool, w.Replicas)));
        Assert.Equal(0.7, wants[0].BusyReplicas, Tolerance);
        Assert.Equal(0.3 * s_l4Prefill * (10.6 + (2_048 / 57.0)) / 2_048 / 1_000, wants[1].BusyReplicas, Tolerance);
    }

    [Fact]
    public void Want_BelowTheAttainmentObjective_SizesForLowerUtilisation()
    {
        // 1.4 busy L4s: 2 replicas at 70%; at 52.5% (70% × 0.75 while attainment is 90% < 99%) 3.
        var pools = new[] { Pool(AcceleratorProfiles.L4, 0, 16) };
        var policy = Seventy();

        Assert.Equal(2, policy.Want(Demand(1.4 * s_l4Prefill, 0, attainment: 0.995), pools)[0].Replicas);
        Assert.Equal(3, policy.Want(Demand(1.4 * s_l4Prefill, 0, attainment: 0.90), pools)[0].Replicas);
    }

    [Fact]
    public void Want_ABurstAboveTheMean_SizesPrefillForTheBurst()
    {
        // A mean of one L4's prefill is one busy L4 (2 at 90%); a recent burst of four L4s' prefill is sized at full
        // utilisation → 4, so a burst like it is served without waiting for a cold start.
        var pools = new[] { Pool(AcceleratorProfiles.L4, 0, 16) };

        var steady = new CapacityPolicy().Want(Demand(s_l4Prefill, 0), pools)[0];
        var bursty = new CapacityPolicy().Want(Demand(s_l4Prefill, 0) with { PeakPromptTokensPerSecond = 4 * s_l4Prefill }, pools)[0];

        Assert.Equal((2, 4), (steady.Replicas, bursty.Replicas));
        Assert.Equal(1.0, bursty.BusyReplicas, Tolerance); // the busy time is the mean's: the burst only adds headroom
    }

    [Fact]
    public void Want_ABurstOverflowingTheCheapestPool_AddsTheNextCheapest()
    {
        // 16 L4s prefill 70,757 of a 150,000 tok/s burst; the H100s (cheaper per prompt token than the A100s) take the
        // remaining 79,243 tok/s: 1.8 H100s at their 44,014 (2,048 tokens in 10.6 + 35.9 ms) → 2.
        PoolState[] pools = [Pool(AcceleratorProfiles.A100, 0, 8), Pool(AcceleratorProfiles.H100, 0, 4), Pool(AcceleratorProfiles.L4, 0, 16)];

        var wants = new CapacityPolicy().Want(Demand(10_000, 0) with { PeakPromptTokensPerSecond = 150_000 }, pools);

        Assert.Equal([("A100", 0), ("H100", 2), ("L4", 16)], wants.Select(w => (w.Pool, w.Replicas)));
    }

    [Fact]
    public void BusyReplicas_QueuedTokens_AreSpreadOverThePoolsColdStart()
    {
        // A minute of one L4's prefill waiting: one busy replica over a 60 s cold start, half over 120 s.
        var demand = Demand(0, 0) with { QueuedPromptTokens = 265_340 };

        Assert.Equal(265_340 / 60.0 / s_l4Prefill, CapacityPolicy.BusyReplicas(Pool(AcceleratorProfiles.L4, 0, 8), demand), Tolerance);
        Assert.Equal(1.0, CapacityPolicy.BusyReplicas(Pool(AcceleratorProfiles.L4, 0, 8), demand), 4);
        Assert.Equal(0.5, CapacityPolicy.BusyReplicas(Pool(AcceleratorProfiles.L4, 0, 8) with { ColdStart = TimeSpan.FromMinutes(2) }, demand), 4);
    }

    [Fact]
    public void BusyReplicas_Decode_CostsAStepOverTheBatchTheKvCacheHolds()
    {
        // L4: 60,000 KV tokens ÷ 1,000 per request = 60 sequences (under its 64 slots); a step of 60 takes
        // 55 + 0.9 × 60 = 109 ms, so 600 output tok/s need 600 × 0.109 / 60 = 1.09 busy replicas.
        var busy = CapacityPolicy.BusyReplicas(Pool(AcceleratorProfiles.L4, 0, 8), Demand(0, 600, meanTokens: 1_000));

        Assert.Equal(600 * 0.109 / 60, busy, Tolerance);
    }

    [Fact]
    public void BusyReplicas_PrefillRidesOnDecodeSteps_AndPaysALaunchOnlyBeyondThem()
    {
        // 600 output tok/s at a batch of 60 are 10 L4 steps a second of 109 ms, each with 1,024 − 60 = 964 tokens of
        // budget left: up to 9,640 prompt tok/s ride on them at 5,800 tok/s and no launch of their own; 10,240 more
        // need 10 prefill-only steps, each paying the 55 ms launch.
        var pool = Pool(AcceleratorProfiles.L4, 0, 8);

        Assert.Equal(1.09 + 1.0, CapacityPolicy.BusyReplicas(pool, Demand(5_800, 600, meanTokens: 1_000)), Tolerance);
        Assert.Equal(1.09 + ((9_640 + 10_240) / 5_800.0) + (10 * 0.055), CapacityPolicy.BusyReplicas(pool, Demand(9_640 + 10_240, 600, meanTokens: 1_000)), Tolerance);
    }

    private static DemandSignal Demand(double promptPerSecond, double outputPerSecond, double meanTokens = 1_000, double attainment = double.NaN) =>
        new(promptPerSecond, outputPerSecond, meanTokens, 0, 0, attainment, promptPerSecond);

    // The arithmetic of the older tests is at 70% utilisation, with no warm floor.
    private static CapacityPolicy Seventy() => new(targetUtilisation: 0.7, warmFloor: 0);

    private static PoolState Pool(AcceleratorProfile profile, int replicas, int max) => new(profile.Product, profile, replicas, max, s_minute);
}
