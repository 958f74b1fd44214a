using Scheduler.Grains;

namespace Scheduler.Tests.Grains;

public sealed class CoalescedWritesTests
{
    // Each write the coalescer starts, held open until the test ends it.
    private readonly List<TaskCompletionSource> _writes = [];

    private CoalescedWrites Coalescer() => new(() =>
    {
        var write = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _writes.Add(write);
        return write.Task;
    });

    [Fact]
    public async Task AfterNextWrite_CallersDuringAWrite_ShareTheOneAfterIt()
    {
        var writes = Coalescer();
        var first = writes.AfterNextWrite();
        var second = writes.AfterNextWrite();
        var third = writes.AfterNextWrite();
        var fourth = writes.AfterNextWrite();

        Assert.Single(_writes);
        Assert.Same(second, third);
        Assert.Same(second, fourth);

        _writes[0].SetResult();
        await first;
        await WaitFor(() => _writes.Count == 2);
        Assert.False(second.IsCompleted, "a change made during the first write is durable only once a later write ends");

        _writes[1].SetResult();
        await second;
        Assert.Equal(2, _writes.Count);
    }

    [Fact]
    public async Task AfterNextWrite_ACallerDuringTheQueuedWrite_WaitsForTheOneAfter()
    {
        var writes = Coalescer();
        _ = writes.AfterNextWrite();
        var queued = writes.AfterNextWrite();
        _writes[0].SetResult();
        await WaitFor(() => _writes.Count == 2);

        // The queued write has begun: its snapshot is taken, so this caller's change needs a third.
        var late = writes.AfterNextWrite();
        Assert.NotSame(queued, late);
        _writes[1].SetResult();
        await queued;
        await WaitFor(() => _writes.Count == 3);
        Assert.False(late.IsCompleted);

        _writes[2].SetResult();
        await late;
    }

    [Fact]
    public async Task AfterNextWrite_AWriteFails_ItsCallersFailAndTheNextCallerWritesAgain()
    {
        var writes = Coalescer();
        var failed = writes.AfterNextWrite();
        _writes[0].SetException(new InvalidOperationException("storage down"));
        await Assert.ThrowsAsync<InvalidOperationException>(() => failed);

        var retried = writes.AfterNextWrite();
        Assert.Equal(2, _writes.Count);
        _writes[1].SetResult();
        await retried;
    }

    [Fact]
    public async Task AfterNextWrite_NothingUnderWay_WritesAtOnce()
    {
        var writes = Coalescer();
        var first = writes.AfterNextWrite();
        _writes[0].SetResult();
        await first;

        var second = writes.AfterNextWrite();
        Assert.Equal(2, _writes.Count);
        _writes[1].SetResult();
        await second;
    }

    private static async Task WaitFor(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out");
            await Task.Delay(1);
        }
    }
}
