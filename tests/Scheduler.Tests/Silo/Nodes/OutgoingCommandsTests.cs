using Grpc.Core;
using Scheduler.Protos.V1;
using Scheduler.Silo.Nodes;
using static Scheduler.Tests.Silo.Nodes.CommandPackingTests;

namespace Scheduler.Tests.Silo.Nodes;

public sealed class OutgoingCommandsTests
{
    [Fact]
    public async Task WriteAsync_CommandsQueuedBeforeTheLoopRuns_GoOutInOneWritePerReplicaAndKind()
    {
        var outgoing = new OutgoingCommands();
        outgoing.Enqueue(Admit("r0", "a"));
        outgoing.Enqueue(Admit("r1", "b"));
        outgoing.Enqueue(Preempt("r0", "a"));
        outgoing.Enqueue(Admit("r0", "c"));
        outgoing.Enqueue(Admit("r1", "d"));
        outgoing.Enqueue(Admit("r0", "e"));
        outgoing.Complete();
        var wire = new RecordingWriter();

        await outgoing.WriteAsync(wire, CancellationToken.None);

        Assert.Equal(
            [Admit("r0", "a"), Admit("r1", "b", "d"), Preempt("r0", "a"), Admit("r0", "c", "e")],
            wire.Written);
    }

    [Fact]
    public async Task WriteAsync_CommandsQueuedWhileAWriteIsUnderWay_GoOutTogetherInTheNextWrite()
    {
        var outgoing = new OutgoingCommands();
        var wire = new RecordingWriter { HoldFirstWrite = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        outgoing.Enqueue(Admit("r0", "a"));
        var loop = outgoing.WriteAsync(wire, CancellationToken.None);
        await wire.FirstWriteStarted.Task.WaitAsync(TimeSpan.FromSeconds(10));

        outgoing.Enqueue(Admit("r0", "b"));
        outgoing.Enqueue(Admit("r0", "c"));
        outgoing.Enqueue(Cancel("r0", "a"));
        wire.HoldFirstWrite.SetResult();
        outgoing.Complete();
        await loop.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal([Admit("r0", "a"), Admit("r0", "b", "c"), Cancel("r0", "a")], wire.Written);
    }

    [Fact]
    public async Task WriteAsync_WriteFails_EndsQuietlyForTheReadSideToHandTheJobsBack()
    {
        var outgoing = new OutgoingCommands();
        outgoing.Enqueue(Admit("r0", "a"));
        var wire = new RecordingWriter { Failure = new RpcException(new Status(StatusCode.Unavailable, "gone")) };

        var loop = outgoing.WriteAsync(wire, CancellationToken.None);
        await loop.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.True(loop.IsCompletedSuccessfully);
        Assert.Empty(wire.Written);
    }

    /// <summary>A request stream that records the messages written to it (copies: they are the wire's now).</summary>
    private sealed class RecordingWriter : IClientStreamWriter<ExecuteCommand>
    {
        public List<ExecuteCommand> Written { get; } = [];

        public TaskCompletionSource? HoldFirstWrite { get; init; }

        public TaskCompletionSource FirstWriteStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Exception? Failure { get; init; }

        public WriteOptions? WriteOptions { get; set; }

        public Task WriteAsync(ExecuteCommand message) => WriteAsync(message, CancellationToken.None);

        public async Task WriteAsync(ExecuteCommand message, CancellationToken cancellationToken)
        {
            if (Failure is not null)
            {
                throw Failure;
            }

            Written.Add(message.Clone());
            if (FirstWriteStarted.TrySetResult() && HoldFirstWrite is not null)
            {
                await HoldFirstWrite.Task.WaitAsync(cancellationToken);
            }
        }

        public Task CompleteAsync() => Task.CompletedTask;
    }
}
