using Scheduler.Grains;

namespace Scheduler.Tests.Grains;

public sealed class CountedTests
{
    [Theory]
    [InlineData(0, "0 replicas")]
    [InlineData(1, "1 replica")]
    [InlineData(2, "2 replicas")]
    public void Of_ARegularNoun_IsSingularForOneOnly(int n, string expected) => Assert.Equal(expected, Counted.Of(n, "replica"));

    [Theory]
    [InlineData(1, "1 class")]
    [InlineData(3, "3 classes")]
    public void Of_WithItsPlural_UsesItForMoreThanOne(int n, string expected) => Assert.Equal(expected, Counted.Of(n, "class", "classes"));
}
