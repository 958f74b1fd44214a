using Scheduler.Grains.Tenants;

namespace Scheduler.Tests.Grains.Tenants;

public sealed class CountedSubmissionsTests
{
    private static readonly DateTimeOffset At = new(2026, 12, 7, 16, 0, 0, TimeSpan.Zero);

    [Fact]
    public void MoveTo_KeepsTheIdsOfTheWritesMillisecondAndLater_AndHoldsEveryJobBefore()
    {
        var counted = new CountedSubmissions();
        counted.Add("before", At.AddMilliseconds(-1));
        counted.Add("same-ms", At.AddTicks(9_000));
        counted.Add("ahead", At.AddSeconds(2));

        counted.MoveTo(At.AddTicks(5_000));

        Assert.Equal(At.ToUnixTimeMilliseconds(), counted.FromMs);
        Assert.Equal(["ahead", "same-ms"], counted.Ids.Keys.Order());
        Assert.True(counted.Holds("before", At.AddMilliseconds(-1)));
        Assert.True(counted.Holds("same-ms", At));

        // Accepted in the write's millisecond, after it: not accounted for, though its time reads as the write's.
        Assert.False(counted.Holds("after-in-same-ms", At));
        Assert.False(counted.Holds("later", At.AddMilliseconds(1)));
    }

    [Fact]
    public void MoveTo_AnEarlierTime_ChangesNothing_AndAnAcceptanceDatedBeforeFromMsIsNotListed()
    {
        // A clock behind the one that last wrote: the ids pruned then are not known, so the bound stays.
        var counted = new CountedSubmissions();
        counted.MoveTo(At);
        counted.Add("ahead", At.AddMilliseconds(3));
        counted.Add("behind", At.AddMilliseconds(-3));

        counted.MoveTo(At.AddSeconds(-1));

        Assert.Equal(At.ToUnixTimeMilliseconds(), counted.FromMs);
        Assert.Equal(["ahead"], counted.Ids.Keys);
    }

    [Fact]
    public void Holds_WithNoWriteYet_OnlyTheIdsAdded()
    {
        var counted = new CountedSubmissions();
        counted.Add("added", At);

        Assert.Null(counted.FromMs);
        Assert.True(counted.Holds("added", At));
        Assert.False(counted.Holds("other", At.AddYears(-1)));
    }
}
