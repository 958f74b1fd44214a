using Grpc.Core;
using Grpc.Net.Client;
using Scheduler.Protos.V1;
using Scheduler.Tests.EndToEnd;
using Scheduler.Tests.Silo.Telemetry;
using Scheduler.Worker.Engines;
using Scheduler.Worker.Hosting;
using static Scheduler.Tests.Worker.EngineRun;

namespace Scheduler.Tests.Worker.Llama;

/// <summary>A worker node host running the llama engine on the tiny GGUF model, driven over a real gRPC channel.</summary>
public sealed class LlamaWorkerNodeTests(TinyModelFixture tiny) : IClassFixture<TinyModelFixture>
{
    private const string Token = "test-node-token";
    private const string Replica = "llama-node-l4-0/tiny";
    private static readonly string[] Ids = ["a", "b", "c"];

    private readonly Metadata _auth = new() { { "authorization", $"Bearer {Token}" } };

    [Fact]
    public async Task Execute_StreamsTheModelsTokens_ForSequencesBatchedTogether()
    {
        var options = new WorkerNodeOptions { NodeId = "llama-node", NodeToken = Token, Engine = "llama", HealthPort = FreePort.Next() };
        options.Model.Path = tiny.Path;
        options.Model.Threads = 1;
        options.Accelerators.Add(new AcceleratorOptions { Product = "L4", Model = "tiny", MaxContextTokens = 256 });
        await using var worker = await StartedWorker.StartAsync(options);
        using var channel = GrpcChannel.ForAddress(worker.Node.Address);
        var client = new WorkerService.WorkerServiceClient(channel);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        var description = await client.DescribeAsync(new DescribeRequest(), _auth, cancellationToken: cts.Token);
        using var call = client.Execute(_auth, cancellationToken: cts.Token);
        var admit = new AdmitBatch { ReplicaId = Replica };
        admit.Sequences.Add(Ids.Select(id => new SequenceSpec { SequenceId = id, Prompt = "the fast model", MaxTokens = 12, Temperature = 0.7f }));
        await call.RequestStream.WriteAsync(new ExecuteCommand { Admit = admit }, cts.Token);
        var reports = await ReadUntilFinishedAsync(call, 3, cts.Token);

        Assert.Equal("llama", description.Engine);
        Assert.Equal((4, 4L * 256, 256), (description.Replicas[0].MaxSequences, description.Replicas[0].KvCapacityTokens, description.Replicas[0].MaxContextTokens));
        var promptTokens = tiny.Model.Tokenize("the fast model").Length;
        foreach (var id in Ids)
        {
            var outcome = SequenceOutcome.Of(id, reports);
            Assert.Equal(Enumerable.Range(0, 12), outcome.Indexes);
            Assert.False(string.IsNullOrWhiteSpace(outcome.Text));
            Assert.Equal(new SequenceFinished { SequenceId = id, Reason = FinishReason.Length, CompletionTokens = 12, PromptTokens = promptTokens }, outcome.Finished);
        }

        // One step per token, each carrying a token of all three sequences.
        Assert.Equal(12, reports.Count(r => r.Tokens.Count > 0));
        Assert.All(reports.Where(r => r.Tokens.Count > 0), r => Assert.Equal(3, r.Tokens.Count));
        Assert.Equal(3, reports[^1].Capacity.PeakSequences);

        // The engine's own batch counters travel with the capacity: 12 decode calls of the 3 sequences, the first
        // holding their prompts, each later one a token of each.
        var capacity = reports[^1].Capacity;
        Assert.Equal((12L, 36L, 3), (capacity.DecodeCalls, capacity.DecodeSequences, capacity.PeakDecodeSequences));
        Assert.Equal((3L * promptTokens + (11 * 3), 3 * promptTokens), (capacity.DecodeTokens, capacity.PeakDecodeTokens));

        // And the node's /metrics counts them per replica (the meter takes a report once it is on its way).
        using var http = new HttpClient();
        var ofReplica = ("scheduler_replica_id", Replica);
        IReadOnlyList<PrometheusSample> samples = [];
        await Polling.Until(
            async () => (samples = await PrometheusScrape.ReadAsync(http, $"http://127.0.0.1:{options.HealthPort}")).Sum("scheduler_engine_decode_calls_total", ofReplica) == 12,
            "the node's metrics count the 12 decode calls", TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(20));
        Assert.Equal(36, samples.Sum("scheduler_engine_decode_sequences_total", ofReplica));
        Assert.Equal(3 * promptTokens + (11 * 3), samples.Sum("scheduler_engine_decode_tokens_total", ofReplica));
        await call.RequestStream.CompleteAsync();
    }
}
