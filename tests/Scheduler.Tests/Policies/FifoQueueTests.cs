using Scheduler.Policies;
using Scheduler.Policies.Fairness;
using static Scheduler.Tests.Policies.PolicyFixtures;

namespace Scheduler.Tests.Policies;

public sealed class FifoQueueTests
{
    private readonly FifoQueue _queue = new();

    private List<string> Drain()
    {
        var served = new List<string>();
        while (_queue.DequeueNext(_ => true) is { } job)
        {
            served.Add(job.JobId);
        }

        return served;
    }

    [Fact]
    public void DequeueNextHead_OffersEachTenantsFirstJobOfEachClassOnly_InArrivalOrder()
    {
        foreach (var (id, tenant, priority) in new[] { ("a1", "a", JobPriority.Standard), ("a2", "a", JobPriority.Standard),
            ("b1", "b", JobPriority.Standard), ("a3", "a", JobPriority.Critical) })
        {
            _queue.Enqueue(Job(id, tenant, priority: priority));
        }

        var offered = new List<string>();
        Assert.Null(_queue.DequeueNextHead(j => { offered.Add(j.JobId); return false; }));
        Assert.Equal(["a1", "b1", "a3"], offered);
        Assert.Equal("b1", _queue.DequeueNextHead(j => j.TenantId == "b")?.JobId);
        Assert.Equal(["a1", "a2", "a3"], Drain());
    }

    [Fact]
    public void PeekNext_IsTheHead_AndTakesNothing()
    {
        Assert.Null(_queue.PeekNext());
        _queue.Enqueue(Job("a1", "a", priority: JobPriority.Sheddable));
        _queue.Enqueue(Job("b1", "b", priority: JobPriority.Critical));

        Assert.Equal("a1", _queue.PeekNext()?.JobId);
        Assert.Equal(["a1", "b1"], Drain());
    }

    [Fact]
    public void DequeueNext_Fifo_ServesArrivalOrderRegardlessOfTenant()
    {
        _queue.Enqueue(Job("a1", "a", prompt: 10_000));
        _queue.Enqueue(Job("a2", "a", prompt: 10_000));
        _queue.Enqueue(Job("b1", "b", prompt: 10));
        _queue.Enqueue(Job("a3", "a", prompt: 10_000));
        _queue.Enqueue(Job("c1", "c"));

        Assert.Equal(["a1", "a2", "b1", "a3", "c1"], Drain());
        Assert.Equal(0, _queue.Count);
    }

    [Fact]
    public void DequeueNext_Fifo_IgnoresWeightsPrioritiesAndCharges()
    {
        _queue.SetWeight("heavy", 0.01);
        _queue.SetWeight("light", 100);
        _queue.Adjust("heavy", 1e9);
        _queue.Enqueue(Job("heavy-shed", "heavy", priority: JobPriority.Sheddable));
        _queue.Enqueue(Job("light-std", "light"));
        _queue.Enqueue(Job("light-crit", "light", priority: JobPriority.Critical));

        Assert.Equal(["heavy-shed", "light-std", "light-crit"], Drain());
    }

    [Fact]
    public void EnqueueFront_Fifo_GoesBeforeEverything()
    {
        _queue.Enqueue(Job("1", "a"));
        _queue.Enqueue(Job("2", "b"));
        _queue.EnqueueFront(Job("retry", "c"));

        Assert.Equal(0, _queue.PositionOf("retry"));
        Assert.Equal(["retry", "1", "2"], Drain());
    }

    [Fact]
    public void Remove_Fifo_TakesJobOutOfLine()
    {
        _queue.Enqueue(Job("1", "a"));
        _queue.Enqueue(Job("2", "b"));
        _queue.Enqueue(Job("3", "a"));

        Assert.True(_queue.Remove("2"));
        Assert.False(_queue.Remove("2"));
        Assert.False(_queue.Remove("never"));
        Assert.Equal(2, _queue.Count);
        Assert.Equal(0, _queue.CountOf("b"));
        Assert.Equal(-1, _queue.PositionOf("2"));
        Assert.Equal(["1", "3"], Drain());
    }

    [Fact]
    public void DequeueNext_Fifo_SkipsUnplaceableJobs_WhichKeepTheirPlace()
    {
        _queue.Enqueue(Job("big", "a", prompt: 50_000));
        _queue.Enqueue(Job("small1", "b", prompt: 100));
        _queue.Enqueue(Job("small2", "a", prompt: 100));

        var served = _queue.DequeueNext(job => job.PromptTokens < 1_000);

        Assert.Equal("small1", served?.JobId);
        Assert.Equal(0, _queue.PositionOf("big"));
        Assert.Null(_queue.DequeueNext(_ => false));
        Assert.Equal(["big", "small2"], Drain());
    }

    [Fact]
    public void DequeueNext_Fifo_Empty_ReturnsNull()
    {
        Assert.Null(_queue.DequeueNext(_ => true));
        Assert.Equal(0, _queue.Count);
    }

    [Fact]
    public void CountOfAndPositionOf_Fifo_TrackArrivalOrder()
    {
        _queue.Enqueue(Job("1", "a"));
        _queue.Enqueue(Job("2", "b"));
        _queue.Enqueue(Job("3", "a"));
        _queue.EnqueueFront(Job("0", "b"));

        Assert.Equal(4, _queue.Count);
        Assert.Equal(2, _queue.CountOf("a"));
        Assert.Equal(2, _queue.CountOf("b"));
        Assert.Equal(0, _queue.CountOf("nobody"));
        Assert.Equal([0, 1, 2, 3], new[] { _queue.PositionOf("0"), _queue.PositionOf("1"), _queue.PositionOf("2"), _queue.PositionOf("3") });

        _queue.DequeueNext(_ => true);

        Assert.Equal(1, _queue.CountOf("b"));
        Assert.Equal(0, _queue.PositionOf("1"));
    }

    [Fact]
    public void Enqueue_Fifo_SameJobAgain_MovesItInsteadOfDuplicating()
    {
        _queue.Enqueue(Job("1", "a"));
        _queue.Enqueue(Job("2", "a"));
        _queue.EnqueueFront(Job("2", "a"));

        Assert.Equal(2, _queue.Count);
        Assert.Equal(2, _queue.CountOf("a"));
        Assert.Equal(["2", "1"], Drain());
    }

    [Fact]
    public void WeightOf_Fifo_IsNone_SoNobodyIsRankedOrCapped()
    {
        _queue.SetWeight("heavy", 4);

        Assert.Null(_queue.WeightOf("heavy"));
    }
}
