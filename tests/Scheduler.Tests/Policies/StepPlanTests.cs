using Scheduler.Policies.Profiles;

namespace Scheduler.Tests.Policies;

public sealed class StepPlanTests
{
    [Fact]
    public void TakePrefill_ChunksWithinTheBudgetLeftByDecodingSequences()
    {
        // Budget 2,048 tokens, 48 decoding sequences: 2,000 tokens of prefill room.
        var plan = new StepPlan(AcceleratorProfiles.H100, decodingSequences: 48);

        Assert.Equal(1_500, plan.TakePrefill(1_500));
        Assert.Equal(500, plan.TakePrefill(900));
        Assert.Equal(0, plan.TakePrefill(100));
        Assert.Equal(2_000, plan.PrefillTokens);
        Assert.Equal(AcceleratorProfiles.H100.StepMs(48, 2_000), plan.DurationMs);
    }

    [Fact]
    public void StepPlan_MoreDecodingThanBudget_LeavesNoPrefillRoom()
    {
        var plan = new StepPlan(AcceleratorProfiles.L4, decodingSequences: 2_000);

        Assert.Equal(0, plan.PrefillRoom);
        Assert.Equal(0, plan.TakePrefill(10));
    }

    [Fact]
    public void PlanStep_DefersOverShareDecode_WhileUnderSharePrefillPending()
    {
        // An L4 (1,024 tokens a step) decoding 60 flood sequences: a light 1,000-token prompt would need two steps, each
        // also decoding the 60. Deferred, the flood's decodes leave it the whole budget: one step, as on an idle replica.
        var light = new Planned(prefill: 1_000, deferrals: 0);
        var flood = Enumerable.Range(0, 60).Select(_ => new Planned(prefill: 0, deferrals: 1)).ToList();
        List<Planned> batch = [light, .. flood];

        var plan = StepPlan.ForBatch(AcceleratorProfiles.L4, batch, new PrefillContention(), 0);

        Assert.Equal(0, plan.DecodingSequences);
        Assert.DoesNotContain(flood, s => StepPlan.Decodes(s));
        Assert.Equal(1_000, plan.TakePrefill(light.PrefillRemaining));
        Assert.Equal(AcceleratorProfiles.L4.StepMs(0, 1_000), plan.DurationMs);
    }

    [Fact]
    public void PlanStep_NeverDefersOneSequenceMoreThanKSteps()
    {
        // A long light prompt stays pending for nine steps; a flood sequence that may wait 2 steps decodes every third.
        var light = new Planned(prefill: 100_000, deferrals: 0);
        var flood = new Planned(prefill: 0, deferrals: 2);
        Planned[] batch = [light, flood];

        var decoded = new List<bool>();
        for (var step = 0; step < 9; step++)
        {
            var plan = StepPlan.ForBatch(AcceleratorProfiles.L4, batch, new PrefillContention(), 0);
            decoded.Add(StepPlan.Decodes(flood));
            Assert.Equal(decoded[^1] ? 1 : 0, plan.DecodingSequences);
            light.PrefillRemaining -= plan.TakePrefill(light.PrefillRemaining);
        }

        Assert.Equal([false, false, true, false, false, true, false, false, true], decoded);
    }

    [Fact]
    public void PlanStep_DecodesEverySequence_WhenOnlyOverSharePrefillIsPending_OrTheUnderShareOneIsNotReady()
    {
        // A flood prompt's pending prefill defers nobody; nor does a light one the caller holds (a metered endpoint's wait).
        var floodPrompt = new Planned(prefill: 500, deferrals: 1);
        var floodDecoding = new Planned(prefill: 0, deferrals: 1);
        var heldLight = new Planned(prefill: 500, deferrals: 0);
        var withoutDeferrals = new Planned(prefill: 0, deferrals: 0);

        var plan = StepPlan.ForBatch(AcceleratorProfiles.L4, new[] { floodPrompt, floodDecoding, withoutDeferrals }, new PrefillContention(), 0);
        var held = StepPlan.ForBatch(AcceleratorProfiles.L4, new[] { heldLight, floodDecoding }, new PrefillContention(), 0, ready: s => s != heldLight);

        Assert.Equal(2, plan.DecodingSequences);
        Assert.Equal(1, held.DecodingSequences);
        Assert.True(StepPlan.Decodes(floodDecoding));
        Assert.False(StepPlan.Decodes(floodPrompt));
    }

    [Fact]
    public void TakePrefill_CapsOverShareSequencesTogether_WhileAnUncappedOneIsHeld()
    {
        // An L4 (1,024 tokens a step): two flood prompts capped at 256 a step share 256, and the light prompt held with
        // them takes the rest of the budget.
        var flood1 = new Planned(prefill: 1_000, deferrals: 0, cap: 256);
        var flood2 = new Planned(prefill: 1_000, deferrals: 0, cap: 256);
        var light = new Planned(prefill: 1_000, deferrals: 0);
        var contention = new PrefillContention();

        var plan = StepPlan.ForBatch(AcceleratorProfiles.L4, new[] { flood1, flood2, light }, contention, nowMs: 0);

        Assert.Equal(256, plan.TakePrefill(flood1));
        Assert.Equal(0, plan.TakePrefill(flood2));
        Assert.Equal(768, plan.TakePrefill(light));
        Assert.Equal(256, plan.CappedPrefillTokens);
    }

    [Fact]
    public void TakePrefill_DoesNotCapBesideADecodingLightSequence_CapsWithinTheWindowAfterItLeft_NotAfterIt()
    {
        // A light job decoding its answer needs no short steps. It finishes by 10 ms, and its tenant's next job is a few ms
        // away: until the window (1 s) after it left ends, the flood's steps stay short; after it, full speed again.
        var flood = new Planned(prefill: 100_000, deferrals: 0, cap: 256, windowMs: 1_000);
        var light = new Planned(prefill: 0, deferrals: 0);
        var contention = new PrefillContention();

        var decoding = StepPlan.ForBatch(AcceleratorProfiles.L4, new[] { flood, light }, contention, nowMs: 0);
        var left = StepPlan.ForBatch(AcceleratorProfiles.L4, new[] { flood }, contention, nowMs: 10);
        var within = StepPlan.ForBatch(AcceleratorProfiles.L4, new[] { flood }, contention, nowMs: 1_010);
        var after = StepPlan.ForBatch(AcceleratorProfiles.L4, new[] { flood }, contention, nowMs: 1_011);

        Assert.Equal(1_023, decoding.TakePrefill(flood));
        Assert.Equal(256, left.TakePrefill(flood));
        Assert.Equal(256, within.TakePrefill(flood));
        Assert.Equal(1_024, after.TakePrefill(flood));
    }

    [Fact]
    public void TakePrefill_CapsOnlyWhenAReadyUncappedPromptIsPending_NeverForTheFloodAlone()
    {
        // The flood alone runs at full speed (work-conserving); a light sequence a metered endpoint still holds does not
        // make the replica contended; once it may run, it does.
        var flood = new Planned(prefill: 100_000, deferrals: 0, cap: 256, windowMs: 1_000);
        var heldLight = new Planned(prefill: 1_000, deferrals: 0);

        var alone = StepPlan.ForBatch(AcceleratorProfiles.L4, new[] { flood }, new PrefillContention(), nowMs: 5_000);
        var held = StepPlan.ForBatch(AcceleratorProfiles.L4, new[] { flood, heldLight }, new PrefillContention(), nowMs: 5_000, ready: s => s != heldLight);
        var ready = StepPlan.ForBatch(AcceleratorProfiles.L4, new[] { flood, heldLight }, new PrefillContention(), nowMs: 5_000);

        Assert.Equal(1_024, alone.TakePrefill(flood));
        Assert.Equal(1_024, held.TakePrefill(flood));
        Assert.Equal(0, alone.CappedPrefillTokens);
        Assert.Equal(256, ready.TakePrefill(flood));
    }

    [Fact]
    public void YieldAfter_APromptRankedAheadOfTheStepsLaterPrefill_EndsTheStepAtTheNextMicroBatch_KeepingWhatRan()
    {
        // An L4 (1,024 tokens a step) decoding 8 flood sequences and prefilling two flood prompts in micro-batches of 256:
        // 8 decodes + 300 + 716 tokens, four calls. A light prompt (rank 1) admitted during the second call ends the step
        // after it: the decodes (in the first call) and 512 prompt tokens ran, the first prompt whole and 212 of the second.
        var (plan, first, second) = FloodStep();
        var duringSecond = plan.MicroBatchesEndMs(1) + 1;

        var after = plan.YieldAfter(duringSecond, rank: 1);

        Assert.Equal(4, plan.MicroBatches);
        Assert.Equal(2, after);
        Assert.Equal(512, plan.PrefillDoneAfter(after));
        Assert.Equal(300, plan.ChunkDoneAfter(0, first, after));
        Assert.Equal(212, plan.ChunkDoneAfter(first, second, after));
        Assert.Equal(8, plan.DecodingSequences);
        Assert.Equal(AcceleratorProfiles.L4.StepMs(8, 512), plan.MicroBatchesEndMs(after));
        Assert.Equal(plan.DurationMs, plan.MicroBatchesEndMs(plan.MicroBatches));
    }

    [Fact]
    public void YieldAfter_AtTheStepsStart_EndsItAfterTheFirstMicroBatch_WhichCarriesEveryDecode()
    {
        var (plan, _, _) = FloodStep();

        var after = plan.YieldAfter(elapsedMs: 0, rank: 1);

        Assert.Equal(1, after);
        Assert.Equal(256, plan.PrefillDoneAfter(after));
        Assert.Equal(AcceleratorProfiles.L4.StepMs(8, 256), plan.MicroBatchesEndMs(after));
    }

    [Fact]
    public void YieldAfter_APromptRankedBehindOrLevelWithTheStepsPrefill_DoesNotEndIt()
    {
        // Equal ranks keep admission order: the newcomer would prefill after the step's prompts anyway.
        var (plan, _, _) = FloodStep();

        Assert.Equal(4, plan.YieldAfter(0, rank: 6));
        Assert.Equal(4, plan.YieldAfter(0, rank: 9));
    }

    [Fact]
    public void YieldAfter_DuringTheLastMicroBatch_OrAStepOfOneCall_DoesNotEndIt()
    {
        // Nothing of the step's prefill is left after the call under way; a step of one call cannot end early.
        var (plan, _, _) = FloodStep();
        var (whole, _, _) = FloodStep(microBatchTokens: 0);

        Assert.Equal(4, plan.YieldAfter(plan.MicroBatchesEndMs(3) + 0.1, rank: 1));
        Assert.Equal(1, whole.MicroBatches);
        Assert.Equal(1, whole.YieldAfter(0, rank: 1));
        Assert.Equal(1_016, whole.PrefillDoneAfter(1));
    }

    [Fact]
    public void StepPlan_NegativeMicroBatchTokens_IsRefused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new StepPlan(AcceleratorProfiles.L4, 0, microBatchTokens: -1));

    // 8 decoding flood sequences and two flood prompts (300 and 10,000 tokens left) ranked 5 and 6, on an L4.
    private static (StepPlan Plan, int First, int Second) FloodStep(int microBatchTokens = 256)
    {
        var decoding = Enumerable.Range(0, 8).Select(_ => new Planned(prefill: 0, deferrals: 0, rank: 2)).ToList();
        var first = new Planned(prefill: 300, deferrals: 0, rank: 5);
        var second = new Planned(prefill: 10_000, deferrals: 0, rank: 6);
        var plan = StepPlan.ForBatch(AcceleratorProfiles.L4, [.. decoding, first, second], new PrefillContention(), 0, microBatchTokens: microBatchTokens);
        var firstChunk = plan.TakePrefill(first);
        var secondChunk = plan.TakePrefill(second);
        return (plan, firstChunk, secondChunk);
    }

    private sealed class Planned(int prefill, int deferrals, int cap = 0, int windowMs = 0, double rank = 0) : IPlannedSequence
    {
        public double FairRank => rank;

        public bool Decoding => PrefillRemaining == 0;

        public int PrefillRemaining { get; set; } = prefill;

        public int DecodeDeferrals => deferrals;

        public int ContendedPrefillTokens => cap;

        public int ContendedPrefillWindowMs => windowMs;

        public int DeferredSteps { get; set; }
    }
}
