using Scheduler.Simulator.Reports;

namespace Scheduler.Tests.Simulator.Reports;

public sealed class FormatTests
{
    [Theory]
    [InlineData(1.0, "100.00%")]
    [InlineData(0.0, "0.00%")]
    [InlineData(0.9937, "99.37%")]
    [InlineData(0.99994, "99.99%")]
    // 21 misses in 1,500,000 requests (a generated trace's run): it read "attainment 100.00%".
    [InlineData(1 - (21 / 1_500_000.0), ">99.99%")]
    [InlineData(1 - 1e-12, ">99.99%")]
    [InlineData(1 / 1_500_000.0, "<0.01%")]
    [InlineData(0.00006, "0.01%")]
    [InlineData(double.NaN, "—")]
    public void Pct_AShareShortOfAllOrAboveNone_NeverReadsAsAllOrNone(double share, string expected) =>
        Assert.Equal(expected, Format.Pct(share));
}
