using Grpc.Core;
using Scheduler.Protos.V1;
using Scheduler.Worker.Services;

namespace Scheduler.Tests.Worker.Services;

public sealed class ExecuteSessionTests
{
    [Fact]
    public async Task Write_ReportsThatQueuedUp_GoOutInOneFlush_TheLastFlushes()
    {
        using var session = new ExecuteSession(CancellationToken.None);
        for (var i = 0; i < 3; i++)
        {
            await session.SendAsync(new StepReport { ReplicaId = "r" + i });
        }

        var stream = new RecordingStream(expected: 3);
        session.StartWriting(stream);
        await stream.Done.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(["r0", "r1", "r2"], stream.Writes.Select(w => w.Message.Step.ReplicaId));
        Assert.Equal([true, true, false], stream.Writes.Select(w => w.Buffered));
    }

    [Fact]
    public async Task Write_ReportAloneInTheQueue_IsFlushedAtOnce()
    {
        using var session = new ExecuteSession(CancellationToken.None);
        var stream = new RecordingStream(expected: 1);
        session.StartWriting(stream);

        await session.SendAsync(new StepReport { ReplicaId = "r" });
        await stream.Done.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.False(Assert.Single(stream.Writes).Buffered);
    }

    [Fact]
    public async Task EndAfterSent_ASessionClosedMeanwhile_HasEnded_AndDoesNotThrow()
    {
        // A stopping node takes the open session from the sessions, then ends it; its call may end first (the peer went
        // away), and closing disposes it. Found in CI: the stop failed with ObjectDisposedException.
        var session = new ExecuteSession(CancellationToken.None);
        session.Dispose();

        await session.EndAfterSentAsync(TimeSpan.FromSeconds(1));
    }

    /// <summary>Keeps each message with whether it was written to be buffered (no flush).</summary>
    private sealed class RecordingStream(int expected) : IServerStreamWriter<ExecuteEvent>
    {
        private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public List<(ExecuteEvent Message, bool Buffered)> Writes { get; } = [];

        public Task Done => _done.Task;

        public WriteOptions? WriteOptions { get; set; }

        public Task WriteAsync(ExecuteEvent message) => WriteAsync(message, CancellationToken.None);

        public Task WriteAsync(ExecuteEvent message, CancellationToken cancellationToken)
        {
            Writes.Add((message, WriteOptions is { Flags: var flags } && flags.HasFlag(WriteFlags.BufferHint)));
            if (Writes.Count == expected)
            {
                _done.TrySetResult();
            }

            return Task.CompletedTask;
        }
    }
}
