using Scheduler.Policies.Placement;
using Scheduler.Policies.Profiles;
using static Scheduler.Tests.Policies.PolicyFixtures;

namespace Scheduler.Tests.Policies;

/// <summary>The load-balancing baselines: least-outstanding (Envoy), power-of-two (Ray Serve), queue-kv (GIE / llm-d).</summary>
public sealed class BaselinePlacementPolicyTests
{
    private readonly LeastOutstandingPlacement _leastOutstanding = new();
    private readonly QueueKvPlacement _queueKv = new();

    /// <summary>Identical H100 replicas carrying the given numbers of running sequences (pure decode load).</summary>
    private static List<ReplicaView> Loaded(params int[] running)
    {
        var fleet = new List<ReplicaView>();
        for (var i = 0; i < running.Length; i++)
        {
            var replica = Replica($"r{i}", AcceleratorProfiles.H100, maxSequences: 16, kvCapacityTokens: 10_000);
            AddDecodingLoad(replica, running[i]);
            fleet.Add(replica);
        }

        return fleet;
    }

    /// <summary>Records every draw, so a test can see which two replicas were sampled.</summary>
    private sealed class RecordingRandom(int seed) : Random(seed)
    {
        public List<int> Draws { get; } = [];

        public override int Next(int maxValue)
        {
            var value = base.Next(maxValue);
            Draws.Add(value);
            return value;
        }
    }

    // ---- least-outstanding ----

    [Fact]
    public void PickReplica_LeastOutstanding_TakesFewestRunning()
    {
        Assert.Equal("r2", _leastOutstanding.Choose(Job("j"), Loaded(3, 5, 1, 2))?.ReplicaId);
    }

    [Fact]
    public void PickReplica_LeastOutstanding_TiesGoToFirstCandidate()
    {
        Assert.Equal("r1", _leastOutstanding.Choose(Job("j"), Loaded(4, 2, 3, 2))?.ReplicaId);
        Assert.Equal("r0", _leastOutstanding.Choose(Job("j"), Loaded(0, 0, 0))?.ReplicaId);
    }

    [Fact]
    public void PickReplica_LeastOutstanding_IgnoresSpeedAndCost()
    {
        // The idle L4 is slower and the busy H100 would meet the objective sooner; only the count matters.
        var h100 = Replica("h100", AcceleratorProfiles.H100);
        AddDecodingLoad(h100, 1);
        var l4 = Replica("l4", AcceleratorProfiles.L4);

        Assert.Equal("l4", _leastOutstanding.Choose(Job("j", ttftObjectiveMs: 50), [h100, l4])?.ReplicaId);
    }

    [Fact]
    public void PickReplica_LeastOutstanding_NoCandidates_ReturnsNull()
    {
        Assert.Null(_leastOutstanding.Choose(Job("j"), []));
    }

    // ---- power-of-two ----

    [Fact]
    public void PickReplica_PowerOfTwo_SeededRandom_IsReproducible()
    {
        var fleet = Loaded(7, 3, 9, 0, 5, 2, 8, 1);
        var first = new PowerOfTwoPlacement(new Random(1234));
        var second = new PowerOfTwoPlacement(new Random(1234));

        var a = Enumerable.Range(0, 200).Select(i => first.Choose(Job($"j{i}"), fleet)!.ReplicaId).ToList();
        var b = Enumerable.Range(0, 200).Select(i => second.Choose(Job($"j{i}"), fleet)!.ReplicaId).ToList();

        Assert.Equal(a, b);
        Assert.True(a.Distinct().Count() > 1, "a random policy should spread its choices");
    }

    [Fact]
    public void PickReplica_PowerOfTwo_NeverPicksTheBusierOfItsTwoSamples()
    {
        var fleet = Loaded(7, 3, 9, 0, 5, 2, 8, 1);
        var random = new RecordingRandom(42);
        var policy = new PowerOfTwoPlacement(random);

        for (var i = 0; i < 500; i++)
        {
            random.Draws.Clear();
            var chosen = policy.Choose(Job($"j{i}"), fleet)!;

            // The policy draws the first index, then the second from the remaining ones (skipping the first).
            Assert.Equal(2, random.Draws.Count);
            var first = random.Draws[0];
            var second = random.Draws[1] >= first ? random.Draws[1] + 1 : random.Draws[1];
            Assert.NotEqual(first, second);
            var expected = fleet[second].RunningSequences < fleet[first].RunningSequences ? fleet[second] : fleet[first];
            Assert.Same(expected, chosen);
        }
    }

    [Fact]
    public void PickReplica_PowerOfTwo_NeverPicksTheBusiestReplica_AndFavoursTheIdlest()
    {
        // Distinct loads: the busiest replica always loses its comparison; the idlest always wins its own.
        var fleet = Loaded(4, 0, 3, 1, 2);
        var policy = new PowerOfTwoPlacement(new Random(7));

        var counts = Enumerable.Range(0, 2_000)
            .Select(i => policy.Choose(Job($"j{i}"), fleet)!.ReplicaId)
            .GroupBy(id => id)
            .ToDictionary(g => g.Key, g => g.Count());

        Assert.False(counts.ContainsKey("r0"));
        Assert.Equal("r1", counts.MaxBy(p => p.Value).Key);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(99)]
    public void PickReplica_PowerOfTwo_TwoCandidates_AlwaysTheLessLoaded(int seed)
    {
        // With two candidates, two distinct samples are both of them, whatever the seed.
        var fleet = Loaded(6, 2);
        var policy = new PowerOfTwoPlacement(new Random(seed));

        for (var i = 0; i < 50; i++)
        {
            Assert.Equal("r1", policy.Choose(Job($"j{i}"), fleet)?.ReplicaId);
        }
    }

    [Fact]
    public void PickReplica_PowerOfTwo_OneOrNoCandidates()
    {
        var policy = new PowerOfTwoPlacement(new Random(0));
        var only = Loaded(3);

        Assert.Same(only[0], policy.Choose(Job("j"), only));
        Assert.Null(policy.Choose(Job("j"), []));
    }

    [Fact]
    public void PowerOfTwo_NullRandom_Throws()
    {
        Assert.Throws<ArgumentNullException>(() => new PowerOfTwoPlacement(null!));
    }

    // ---- queue-kv ----

    [Fact]
    public void PickReplica_QueueKv_PrefersLowKvUtilisation()
    {
        // Same number of running sequences; r0 holds a long job that fills 80% of its KV cache.
        var r0 = Replica("r0", AcceleratorProfiles.H100, maxSequences: 16, kvCapacityTokens: 10_000);
        r0.Admit(Job("long", prompt: 6_000, maxTokens: 2_000));
        var r1 = Replica("r1", AcceleratorProfiles.H100, maxSequences: 16, kvCapacityTokens: 10_000);
        r1.Admit(Job("short", prompt: 100, maxTokens: 100));

        Assert.Equal("r1", _queueKv.Choose(Job("j"), [r0, r1])?.ReplicaId);
    }

    [Fact]
    public void PickReplica_QueueKv_PrefersLowLoad()
    {
        // Same KV reserved (800 tokens); r0 runs four sequences, r1 one.
        var r0 = Replica("r0", AcceleratorProfiles.H100, maxSequences: 8, kvCapacityTokens: 10_000);
        AddDecodingLoad(r0, 4);
        var r1 = Replica("r1", AcceleratorProfiles.H100, maxSequences: 8, kvCapacityTokens: 10_000);
        r1.Admit(Job("one", prompt: 400, maxTokens: 400));
        Assert.Equal(r0.ReservedKvTokens, r1.ReservedKvTokens);

        Assert.Equal("r1", _queueKv.Choose(Job("j"), [r0, r1])?.ReplicaId);
        Assert.Equal("r1", _queueKv.Choose(Job("j"), Loaded(5, 1, 3))?.ReplicaId);
    }

    [Fact]
    public void PickReplica_QueueKv_ScoresWeightedSumOfQueueAndKv()
    {
        // r0: 1 of 10 slots, 9,000 of 10,000 KV → 0.5·0.1 + 0.5·0.9 = 0.50.
        // r1: 5 of 10 slots, 1,000 of 10,000 KV → 0.5·0.5 + 0.5·0.1 = 0.30.
        var r0 = Replica("r0", AcceleratorProfiles.H100, maxSequences: 10, kvCapacityTokens: 10_000);
        r0.Admit(Job("big", prompt: 8_000, maxTokens: 1_000));
        var r1 = Replica("r1", AcceleratorProfiles.H100, maxSequences: 10, kvCapacityTokens: 10_000);
        AddDecodingLoad(r1, 5);

        Assert.Equal(0.5, QueueKvPlacement.QueueWeight);
        Assert.Equal(0.5, QueueKvPlacement.KvWeight);
        Assert.Equal(0.50, QueueKvPlacement.Score(r0), 1e-12);
        Assert.Equal(0.30, QueueKvPlacement.Score(r1), 1e-12);
        Assert.Equal("r1", _queueKv.Choose(Job("j"), [r0, r1])?.ReplicaId);
    }

    [Fact]
    public void PickReplica_QueueKv_IdleReplicaScoresZero_TiesGoToFirstCandidate()
    {
        var fleet = Loaded(0, 0, 0);

        Assert.Equal(0, QueueKvPlacement.Score(fleet[0]));
        Assert.Equal("r0", _queueKv.Choose(Job("j"), fleet)?.ReplicaId);
        Assert.Null(_queueKv.Choose(Job("j"), []));
    }

    [Fact]
    public void PickReplica_QueueKv_IgnoresSpeedAndCost()
    {
        // Utilisation is relative: an idle L4 beats an H100 with one small sequence, though the H100 is faster.
        var h100 = Replica("h100", AcceleratorProfiles.H100);
        AddDecodingLoad(h100, 1);
        var l4 = Replica("l4", AcceleratorProfiles.L4);

        Assert.Equal("l4", _queueKv.Choose(Job("j", ttftObjectiveMs: 50), [h100, l4])?.ReplicaId);
    }
}
