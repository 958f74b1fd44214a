using Grpc.Core;
using Grpc.Net.Client;
using Scheduler.Protos.V1;
using Scheduler.Silo.Nodes;
using Scheduler.Tests.Worker;
using Scheduler.Worker.Hosting;
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

    [Fact]
    public async Task WriteAsync_AnAdmissionOverAWorkersMessageLimit_ReachesARealWorkerInParts()
    {
        // Five sequences of 1 MB prompts in one admission: 5 MB, over the 4 MB a worker takes in one message, which
        // it answers by ending the stream (every job handed back, and admitted again the same way).
        const string token = "test-node-token";
        var options = new WorkerNodeOptions { NodeId = "big", NodeToken = token, SpeedUp = "instant" };
        options.Accelerators.Add(new AcceleratorOptions { Product = "H100" });
        await using var worker = await StartedWorker.StartAsync(options);
        using var channel = GrpcChannel.ForAddress(worker.Node.Address);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var call = new WorkerService.WorkerServiceClient(channel).Execute(new Metadata { { "authorization", "Bearer " + token } }, cancellationToken: cts.Token);
        var admit = Admit("big-h100-0/llama-3.1-8b", "a", "b", "c", "d", "e");
        foreach (var sequence in admit.Admit.Sequences)
        {
            sequence.Prompt = new string('x', 1 << 20);
        }

        var outgoing = new OutgoingCommands();
        outgoing.Enqueue(admit);
        var loop = outgoing.WriteAsync(call.RequestStream, cts.Token);
        var reports = await EngineRun.ReadUntilFinishedAsync(call, 5, cts.Token);

        Assert.Equal(["a", "b", "c", "d", "e"], reports.SelectMany(r => r.Finished).Select(f => f.SequenceId).Order());
        Assert.All(reports.SelectMany(r => r.Finished), f => Assert.Equal(FinishReason.Length, f.Reason));
        outgoing.Complete();
        await loop;
        await call.RequestStream.CompleteAsync();
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
