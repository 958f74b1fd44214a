using Scheduler.Worker.Registration;

namespace Scheduler.Tests.Worker.Registration;

public sealed class CappedBackoffTests
{
    [Fact]
    public void Next_DoublesFromTheFirstDelayUpToTheCap_EachSpreadByTheJitter_UntilReset()
    {
        // A random source that always draws its lowest value: every delay is 80 % of the unjittered one.
        var backoff = new CappedBackoff(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(1), new Jitter(new LowestDraw()));

        var delays = Enumerable.Range(0, 5).Select(_ => backoff.Next().TotalMilliseconds).ToArray();
        Assert.Equal([160, 320, 640, 800, 800], delays);

        backoff.Reset();
        Assert.Equal(160, backoff.Next().TotalMilliseconds);
    }

    [Fact]
    public void Around_StaysWithinTwentyPercent()
    {
        var jitter = new Jitter(new Random(7));
        var delays = Enumerable.Range(0, 1_000).Select(_ => jitter.Around(TimeSpan.FromSeconds(60)).TotalSeconds).ToArray();

        Assert.All(delays, d => Assert.InRange(d, 48, 72));
        Assert.True(delays.Max() - delays.Min() > 20, "the delays are not spread");
    }

    private sealed class LowestDraw : Random
    {
        public override double NextDouble() => 0;
    }
}
