using Scheduler.Grains.Placement;

namespace Scheduler.Tests.Grains.Placement;

public sealed class RejectionHoldsTests
{
    private static readonly DateTimeOffset s_t0 = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void TakePassed_EndsOnlyTheHoldsWhoseTimeHasCome_NextDueIsTheEarliestLeft()
    {
        var holds = new RejectionHolds(TimeSpan.FromSeconds(5));
        holds.Begin("ra", s_t0);
        holds.Begin("rb", s_t0.AddSeconds(2));
        Assert.Equal(s_t0.AddSeconds(5), holds.NextDue);

        Assert.Null(holds.TakePassed(s_t0.AddSeconds(4.999)));
        Assert.Equal(["ra"], holds.TakePassed(s_t0.AddSeconds(5)));

        Assert.False(holds.IsHeld("ra"));
        Assert.True(holds.IsHeld("rb"));
        Assert.Equal(s_t0.AddSeconds(7), holds.NextDue);
        Assert.True(holds.End("rb"));
        Assert.False(holds.End("rb"));
        Assert.Null(holds.NextDue);
    }
}
