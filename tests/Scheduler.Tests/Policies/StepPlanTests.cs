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
}
