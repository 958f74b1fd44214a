using Scheduler.Policies.Placement;
using Scheduler.Policies.Profiles;
using static Scheduler.Tests.Policies.PolicyFixtures;

namespace Scheduler.Tests.Policies;

public sealed class AcceleratorProfileTests
{
    private const double Tolerance = 1e-9;

    [Fact]
    public void StepMs_DecodeOnly_IsBasePlusPerSequence()
    {
        var h100 = AcceleratorProfiles.H100;

        Assert.Equal(10.6 + (0.075 * 10), h100.StepMs(decodingSequences: 10, prefillTokens: 0), Tolerance);
        Assert.Equal(10.6 + 0.075, h100.StepMs(decodingSequences: 1, prefillTokens: 0), Tolerance);
    }

    [Fact]
    public void StepMs_PrefillOnly_PaysLaunchCostOnce()
    {
        var h100 = AcceleratorProfiles.H100;

        // 5,700 tokens at 57,000 tok/s = 100 ms, plus the fixed step cost.
        Assert.Equal(10.6 + 100, h100.StepMs(decodingSequences: 0, prefillTokens: 5_700), Tolerance);
    }

    [Fact]
    public void StepMs_DecodeAndPrefill_AddsBoth()
    {
        var h100 = AcceleratorProfiles.H100;

        Assert.Equal(10.6 + (0.075 * 4) + 10, h100.StepMs(decodingSequences: 4, prefillTokens: 570), Tolerance);
    }

    [Fact]
    public void StepMs_NothingToDo_IsZero()
    {
        Assert.Equal(0, AcceleratorProfiles.A100.StepMs(0, 0));
    }

    [Fact]
    public void Accelerated_DividesTimesAndKeepsPricesAndCapacities()
    {
        var a100 = AcceleratorProfiles.A100;

        var fast = a100.Accelerated(10);

        Assert.Equal(1.25, fast.DecodeStepBaseMs, Tolerance);
        Assert.Equal(0.013, fast.DecodeStepPerSequenceMs, Tolerance);
        Assert.Equal(150_000, fast.PrefillTokensPerSecond, Tolerance);
        Assert.Equal(a100.StepMs(8, 1_500) / 10, fast.StepMs(8, 1_500), Tolerance);
        Assert.Equal(a100.PricePerHourUsd, fast.PricePerHourUsd);
        Assert.Equal(a100.MaxSequences, fast.MaxSequences);
        Assert.Equal(a100.KvCapacityTokens, fast.KvCapacityTokens);
        Assert.Equal(a100.StepTokenBudget, fast.StepTokenBudget);
        Assert.Equal(a100.Product, fast.Product);
    }

    [Fact]
    public void Accelerated_PositiveInfinity_GivesZeroTimes()
    {
        var instant = AcceleratorProfiles.L4.Accelerated(double.PositiveInfinity);

        Assert.Equal(0, instant.StepMs(0, 1_000));
        Assert.Equal(0, instant.StepMs(32, 0));
        Assert.Equal(0, instant.StepMs(32, 4_000));
        var replica = Replica("r", instant);
        Assert.Equal(0, ReplicaPrediction.TtftMs(replica, Job("j", prompt: 10_000)));
        Assert.Equal(0, ReplicaPrediction.TimePerOutputTokenMs(replica));
        Assert.Equal(AcceleratorProfiles.L4.PricePerHourUsd, instant.PricePerHourUsd);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-2.0)]
    [InlineData(double.NegativeInfinity)]
    public void Accelerated_NonPositiveFactor_Throws(double factor)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => AcceleratorProfiles.H100.Accelerated(factor));
    }

    [Fact]
    public void Cost_HourlyProfile_ChargesTimeNotTokens()
    {
        var h100 = AcceleratorProfiles.H100;

        Assert.False(h100.IsMetered);
        Assert.Equal(12.29, h100.HourlyCostUsd(3_600), Tolerance);
        Assert.Equal(12.29 / 2, h100.HourlyCostUsd(1_800), Tolerance);
        Assert.Equal(0, h100.MeteredCostUsd(1_000_000, 1_000_000));
    }

    [Fact]
    public void Cost_MeteredProfile_ChargesTokensNotTime()
    {
        var lpu = AcceleratorProfiles.Lpu;

        Assert.True(lpu.IsMetered);
        Assert.Equal(0.05 + 0.08, lpu.MeteredCostUsd(1_000_000, 1_000_000), Tolerance);
        Assert.Equal((500 * 0.05 / 1e6) + (200 * 0.08 / 1e6), lpu.MeteredCostUsd(500, 200), Tolerance);
        Assert.Equal(0, lpu.HourlyCostUsd(3_600));
    }

    [Fact]
    public void Cost_OnlyOutputPriced_IsStillMetered()
    {
        var outputOnly = AcceleratorProfiles.H100 with { PricePerHourUsd = 0, PricePerMillionOutputTokensUsd = 1 };

        Assert.True(outputOnly.IsMetered);
        Assert.Equal(1, outputOnly.MeteredCostUsd(123, 1_000_000), Tolerance);
    }

    [Fact]
    public void Profiles_TryGet_IsCaseInsensitive()
    {
        Assert.True(AcceleratorProfiles.TryGet("h100", out var h100));
        Assert.Same(AcceleratorProfiles.H100, h100);
        Assert.True(AcceleratorProfiles.TryGet("lpu", out var lpu));
        Assert.Same(AcceleratorProfiles.Lpu, lpu);
        Assert.False(AcceleratorProfiles.TryGet("TPU", out _));
        Assert.Equal(5, AcceleratorProfiles.All.Count);
    }
}
