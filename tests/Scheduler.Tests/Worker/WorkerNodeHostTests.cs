using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Scheduler.Protos.V1;
using Scheduler.Worker.Engines;
using Scheduler.Worker.Hosting;
using static Scheduler.Tests.Worker.EngineRun;

namespace Scheduler.Tests.Worker;

/// <summary>A real worker node host on a free loopback port, driven over a real gRPC channel.</summary>
public sealed class WorkerNodeHostTests : IAsyncLifetime
{
    private const string Token = "test-node-token";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    // Output tokens of a sequence that runs until something stops it (its KV reservation still fits an H100).
    private const int LongRun = 400_000;

    private readonly Metadata _auth = new() { { "authorization", $"Bearer {Token}" } };
    private StartedWorker _worker = null!;
    private WorkerNode _node = null!;
    private GrpcChannel _channel = null!;
    private WorkerService.WorkerServiceClient _client = null!;

    public async Task InitializeAsync()
    {
        var options = new WorkerNodeOptions { NodeId = "Test-Node", NodeToken = Token, SpeedUp = "instant" };
        options.Accelerators.Add(new AcceleratorOptions { Product = "h100", Count = 2 });
        options.Accelerators.Add(new AcceleratorOptions { Product = "LPU", Count = 1, Model = "llama-3.1-70b", MaxContextTokens = 4096 });
        _worker = await StartedWorker.StartAsync(options);
        _node = _worker.Node;
        _channel = GrpcChannel.ForAddress(_node.Address);
        _client = new WorkerService.WorkerServiceClient(_channel);
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _worker.DisposeAsync();
    }

    [Fact]
    public async Task Describe_ListsAcceleratorsAndReplicasAtTheBoundAddress()
    {
        var description = await _client.DescribeAsync(new DescribeRequest(), _auth, deadline: DateTime.UtcNow + Timeout);

        Assert.Matches(@"^http://127\.0\.0\.1:\d+$", _node.Address);
        Assert.NotEqual("http://127.0.0.1:0", _node.Address);
        Assert.Equal(_node.Address, description.Address);
        Assert.Equal("Test-Node", description.NodeId);
        Assert.Equal("simulated", description.Engine);
        Assert.Equal(["test-node-h100-0", "test-node-h100-1", "test-node-lpu-0"], description.Accelerators.Select(a => a.AcceleratorId));
        Assert.Equal(
            ["test-node-h100-0/llama-3.1-8b", "test-node-h100-1/llama-3.1-8b", "test-node-lpu-0/llama-3.1-70b"],
            description.Replicas.Select(r => r.ReplicaId));

        var h100 = description.Accelerators[0].Profile;
        Assert.Equal(("H100", "gpu", 256, 460_000L, 2048, 12.29), (h100.Product, h100.Kind, h100.MaxSequences, h100.KvCapacityTokens, h100.StepTokenBudget, h100.PricePerHourUsd));

        // An instant node advertises the nominal profile, so the scheduler's cost model still sees real step times.
        Assert.Equal(10.6, h100.DecodeStepBaseMs);
        var lpu = description.Accelerators[2].Profile;
        Assert.Equal(("lpu", 0.08), (lpu.Kind, lpu.PricePerMillionOutputTokensUsd));
        var lpuReplica = description.Replicas[2];
        Assert.Equal(("llama-3.1-70b", "test-node-lpu-0", 128, 1_000_000L, 4096), (lpuReplica.Model, lpuReplica.AcceleratorId, lpuReplica.MaxSequences, lpuReplica.KvCapacityTokens, lpuReplica.MaxContextTokens));
    }

    [Fact]
    public async Task Execute_RunsAdmittedBatchesToTheirExactTokenCounts()
    {
        using var cts = new CancellationTokenSource(Timeout);
        using var call = _client.Execute(_auth, cancellationToken: cts.Token);
        await call.RequestStream.WriteAsync(Admit("test-node-h100-0/llama-3.1-8b", ("a", 100, 5), ("b", 3_000, 7), ("c", 10, 40)));
        await call.RequestStream.WriteAsync(Admit("test-node-lpu-0/llama-3.1-70b", ("d", 50, 3)));
        await call.RequestStream.WriteAsync(Admit("no-such-replica", ("e", 50, 3)));

        var reports = await ReadUntilFinishedAsync(call, 5, cts.Token);

        var expected = new Dictionary<string, int> { ["a"] = 5, ["b"] = 7, ["c"] = 40, ["d"] = 3 };
        foreach (var (id, count) in expected)
        {
            var outcome = SequenceOutcome.Of(id, reports);
            Assert.Equal(Enumerable.Range(0, count), outcome.Indexes);
            Assert.Equal(new SequenceFinished { SequenceId = id, Reason = FinishReason.Length, CompletionTokens = count }, outcome.Finished);
        }

        Assert.Equal(FinishReason.Rejected, SequenceOutcome.Of("e", reports).Finished!.Reason);
        var capacities = reports.Where(r => r.Capacity is not null).Select(r => r.Capacity).ToList();
        Assert.All(capacities, c => Assert.Equal(0, c.RejectedAdmissions));
        Assert.Equal(3, capacities.Where((_, i) => reports[i].ReplicaId.StartsWith("test-node-h100-0", StringComparison.Ordinal)).Max(c => c.PeakSequences));

        // "b" (3,000 prompt tokens) is prefilled over two steps within the H100's 2,048-token budget.
        var h100 = reports.Where(r => r.ReplicaId == "test-node-h100-0/llama-3.1-8b").ToList();
        Assert.DoesNotContain(h100[0].Tokens, t => t.SequenceId == "b");

        var health = await _client.HealthAsync(new NodeHealthRequest(), _auth);
        Assert.True(health.Serving);
        Assert.Equal(0, health.RunningSequences);
        await call.RequestStream.CompleteAsync();
    }

    [Fact]
    public async Task Execute_CancelledSequenceIsReportedCancelled()
    {
        using var cts = new CancellationTokenSource(Timeout);
        using var call = _client.Execute(_auth, cancellationToken: cts.Token);
        await call.RequestStream.WriteAsync(Admit("test-node-h100-1/llama-3.1-8b", ("long", 10, LongRun)));
        Assert.True(await call.ResponseStream.MoveNext(cts.Token));
        Assert.Equal("long", call.ResponseStream.Current.Step.Tokens.Single().SequenceId);

        var cancel = new ExecuteCommand { Cancel = new CancelSequences { ReplicaId = "test-node-h100-1/llama-3.1-8b" } };
        cancel.Cancel.SequenceIds.Add("long");
        await call.RequestStream.WriteAsync(cancel);
        var reports = await ReadUntilFinishedAsync(call, 1, cts.Token);

        var finished = reports.SelectMany(r => r.Finished).Single();
        Assert.Equal(FinishReason.Cancelled, finished.Reason);
        Assert.InRange(finished.CompletionTokens, 1, LongRun - 1);
        await call.RequestStream.CompleteAsync();
    }

    [Fact]
    public async Task Execute_PreemptedSequence_IsReportedWithTheStepUnderWay_AfterThatStepsToken()
    {
        // Slow steps (an L4 at a fifth of its speed, about 300 ms each): the stop lands while a step is under way,
        // however slow the loopback, and the victim produces a token in every step.
        var options = new WorkerNodeOptions { NodeId = "slow", NodeToken = Token, SpeedUp = "0.2" };
        options.Accelerators.Add(new AcceleratorOptions { Product = "L4" });
        await using var slow = await StartedWorker.StartAsync(options);
        using var channel = GrpcChannel.ForAddress(slow.Node.Address);
        var client = new WorkerService.WorkerServiceClient(channel);
        using var cts = new CancellationTokenSource(Timeout);
        using var call = client.Execute(_auth, cancellationToken: cts.Token);
        const string replica = "slow-l4-0/llama-3.1-8b";
        await call.RequestStream.WriteAsync(Admit(replica, ("victim", 10, 1_000)));
        Assert.True(await call.ResponseStream.MoveNext(cts.Token));
        Assert.Equal("victim", call.ResponseStream.Current.Step.Tokens.Single().SequenceId);

        var preempt = new ExecuteCommand { Preempt = new PreemptSequences { ReplicaId = replica } };
        preempt.Preempt.SequenceIds.Add("victim");
        await call.RequestStream.WriteAsync(preempt);
        var reports = await ReadUntilFinishedAsync(call, 1, cts.Token);

        // The stop goes out with the report of the step it interrupted — that step's token, then the finish counting
        // it — not with the next step's, a step later (the scheduler queues the job again only once it is reported).
        var last = reports[^1];
        var finished = last.Finished.Single();
        Assert.Equal(("victim", FinishReason.Preempted), (finished.SequenceId, finished.Reason));
        var token = Assert.Single(last.Tokens, t => t.SequenceId == "victim");
        Assert.Equal(finished.CompletionTokens, token.FirstTokenIndex + token.TokenCount);
        await call.RequestStream.CompleteAsync();
    }

    [Fact]
    public async Task Execute_NewStreamReplacesTheOldOne_WhoseSequencesAreDroppedSilently()
    {
        // Real-time steps (≈ 11 ms), so the old stream's reports never pile up unread in its flow-control window.
        var options = new WorkerNodeOptions { NodeId = "paced", NodeToken = Token };
        options.Accelerators.Add(new AcceleratorOptions { Product = "H100" });
        await using var paced = await StartedWorker.StartAsync(options);
        using var channel = GrpcChannel.ForAddress(paced.Node.Address);
        var client = new WorkerService.WorkerServiceClient(channel);
        using var cts = new CancellationTokenSource(Timeout);
        using var first = client.Execute(_auth, cancellationToken: cts.Token);
        await first.RequestStream.WriteAsync(Admit("paced-h100-0/llama-3.1-8b", ("old", 10, LongRun)));
        Assert.True(await first.ResponseStream.MoveNext(cts.Token));
        Assert.Equal("old", first.ResponseStream.Current.Step.Tokens.Single().SequenceId);

        using var second = client.Execute(_auth, cancellationToken: cts.Token);
        await second.RequestStream.WriteAsync(Admit("paced-h100-0/llama-3.1-8b", ("new", 10, 4)));
        var reports = await ReadUntilFinishedAsync(second, 1, cts.Token);

        // The old stream ends with ABORTED; nothing about its sequence reaches the new one.
        var ended = await Assert.ThrowsAsync<RpcException>(() => DrainAsync(first, "old", cts.Token));
        Assert.Equal(StatusCode.Aborted, ended.StatusCode);
        Assert.DoesNotContain(reports, r => r.Tokens.Any(t => t.SequenceId == "old") || r.Finished.Any(f => f.SequenceId == "old"));
        Assert.Equal(4, SequenceOutcome.Of("new", reports).Finished!.CompletionTokens);
        Assert.Equal(0, (await client.HealthAsync(new NodeHealthRequest(), _auth)).RunningSequences);
        await second.RequestStream.CompleteAsync();
    }

    [Fact]
    public async Task Execute_NewStreamReplacesAnOldOneThatStoppedReading()
    {
        // The instant engine fills the old stream's flow-control window while its client reads nothing.
        using var cts = new CancellationTokenSource(Timeout);
        using var first = _client.Execute(_auth, cancellationToken: cts.Token);
        await first.RequestStream.WriteAsync(Admit("test-node-h100-0/llama-3.1-8b", ("old", 10, LongRun)));
        Assert.True(await first.ResponseStream.MoveNext(cts.Token));
        await Task.Delay(200);

        using var second = _client.Execute(_auth, cancellationToken: cts.Token);
        await second.RequestStream.WriteAsync(Admit("test-node-h100-0/llama-3.1-8b", ("new", 10, 4)));
        var reports = await ReadUntilFinishedAsync(second, 1, cts.Token);

        // The write the old peer left stalled is reset after a short grace instead of blocking the new stream;
        // HTTP/2 reports a reset as CANCELLED or INTERNAL, not as the ABORTED status a reading peer gets.
        await Assert.ThrowsAsync<RpcException>(() => DrainAsync(first, "old", cts.Token));
        Assert.DoesNotContain(reports, r => r.Tokens.Any(t => t.SequenceId == "old") || r.Finished.Any(f => f.SequenceId == "old"));
        Assert.Equal(4, SequenceOutcome.Of("new", reports).Finished!.CompletionTokens);
        await second.RequestStream.CompleteAsync();
    }

    [Fact]
    public async Task Execute_StreamBreak_DropsRunningSequences()
    {
        using (var call = _client.Execute(_auth))
        {
            await call.RequestStream.WriteAsync(Admit("test-node-h100-1/llama-3.1-8b", ("orphan", 10, LongRun)));
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
            Assert.Equal("orphan", call.ResponseStream.Current.Step.Tokens.Single().SequenceId);
        }

        // Disposing the call resets the stream; the node drops what ran on it.
        var deadline = DateTime.UtcNow + Timeout;
        while ((await _client.HealthAsync(new NodeHealthRequest(), _auth)).RunningSequences > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "The node kept running the sequences of a broken stream.");
            await Task.Delay(20);
        }
    }

    [Theory]
    [InlineData(null)]
    [InlineData("Bearer wrong-token")]
    [InlineData("test-node-token")]
    public async Task Calls_WithoutTheNodeToken_AreUnauthenticated(string? authorization)
    {
        var headers = authorization is null ? new Metadata() : new Metadata { { "authorization", authorization } };

        var describe = await Assert.ThrowsAsync<RpcException>(() => _client.DescribeAsync(new DescribeRequest(), headers).ResponseAsync);
        using var call = _client.Execute(headers);
        var execute = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));

        Assert.Equal(StatusCode.Unauthenticated, describe.StatusCode);
        Assert.Equal(StatusCode.Unauthenticated, execute.StatusCode);
    }

    [Fact]
    public async Task StandardHealthService_ServesWithoutCredentials()
    {
        var health = new Health.HealthClient(_channel);

        var response = await health.CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow + Timeout);

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, response.Status);
    }

    private static ExecuteCommand Admit(string replicaId, params (string Id, int Prompt, int Max)[] sequences)
    {
        var batch = new AdmitBatch { ReplicaId = replicaId };
        batch.Sequences.Add(sequences.Select(s => Sequence(s.Id, s.Prompt, s.Max)));
        return new ExecuteCommand { Admit = batch };
    }

    /// <summary>Reads a stream to its end, checking that <paramref name="sequenceId"/> is never reported finished.</summary>
    private static async Task DrainAsync(AsyncDuplexStreamingCall<ExecuteCommand, ExecuteEvent> call, string sequenceId, CancellationToken cancellationToken)
    {
        while (await call.ResponseStream.MoveNext(cancellationToken))
        {
            Assert.DoesNotContain(call.ResponseStream.Current.Step.Finished, f => f.SequenceId == sequenceId);
        }
    }
}
