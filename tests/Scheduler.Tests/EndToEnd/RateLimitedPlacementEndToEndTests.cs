using Scheduler.Client;
using Scheduler.Protos.V1;
using Scheduler.Silo.Models;
using Scheduler.Tests.Worker.Upstream;
using Scheduler.Worker.Engines;
using Scheduler.Worker.Hosting;

namespace Scheduler.Tests.EndToEnd;

/// <summary>
/// A metered endpoint's tokens-per-minute limit, end to end: a worker node (hosted here, over real gRPC) offers a cheap
/// metered "LPU" replica forwarding to an OpenAI-compatible server on a loopback port (a recorded vLLM stream: the
/// provider is outside this test) and a simulated A100. The node announces the LPU's limit; the silo's cost-aware
/// placement sends the first job to the cheap LPU, and the next one, which the limit would hold for about 20 s, to the
/// A100.
/// </summary>
public sealed class RateLimitedPlacementEndToEndTests : IAsyncLifetime
{
    private const string Model = "rate-limited-model";
    private const string TenantKey = "rate-limited-tenant-key";
    private const string Prompt = "What is the capital of France?";

    // The recorded stream ends after 4 tokens with "length".
    private const int MaxTokens = 4;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private FaultyUpstream _upstream = null!;
    private LoopbackScheduler _scheduler = null!;
    private int _jobTokens;

    public async Task InitializeAsync()
    {
        _upstream = await FaultyUpstream.StartAsync();
        _upstream.Respond = FaultyUpstream.Transcript(UpstreamTranscripts.VllmCompletion);
        _scheduler = await LoopbackScheduler.StartAsync(Model, "rate-limited-tenant", TenantKey, "--Scheduler:Models:0:MaxContextTokens=2048");

        // A minute's worth of tokens for one and a half jobs, counted as the scheduler counts a job (prompt + max_tokens).
        Assert.True(_scheduler.Service<ModelCatalog>().TryGet(Model, out var model));
        _jobTokens = model.CountTokens(Prompt) + MaxTokens;

        var options = new WorkerNodeOptions { NodeId = "rl-node" };
        var lpu = new AcceleratorOptions
        {
            Product = "LPU", Model = Model, MaxContextTokens = 2048, Engine = EngineNames.Upstream,
            PricePerMillionInputTokensUsd = 0.05, PricePerMillionOutputTokensUsd = 0.08,
        };
        lpu.Upstream.BaseUrl = _upstream.BaseUri.ToString();
        lpu.Upstream.Model = "meta-llama/Llama-3.1-8B-Instruct";
        lpu.Upstream.Slots = 4;
        lpu.Upstream.TokensPerMinute = _jobTokens * 3 / 2;
        options.Accelerators.Add(lpu);
        options.Accelerators.Add(new AcceleratorOptions { Product = "A100", Model = Model, MaxContextTokens = 2048 });
        await _scheduler.StartNodeAsync(options);
        await _scheduler.WaitForReadyReplicas(Model, 2);
    }

    public async Task DisposeAsync()
    {
        await _scheduler.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    [Fact]
    public async Task MeteredReplicaAtItsTokenLimit_TheNextJobGoesToTheGpu_NotIntoTheLimitersWait()
    {
        using var client = new SchedulerClient(_scheduler.Address, TenantKey);
        var request = new SubmitJobRequest { Model = Model, Prompt = Prompt, MaxTokens = MaxTokens, Temperature = 0 };

        var first = await client.RunAsync(request, deadline: DateTime.UtcNow + Timeout);
        Assert.Equal((JobStatus.Completed, "rl-node-lpu-0/" + Model), (first.Status, first.Placement!.ReplicaId));
        Assert.Equal(" Paris, the capital of", first.Text);

        // Operators see the limit and the scheduler's count of what it allows now: half a job's tokens, plus what refilled.
        using var admin = new SchedulerAdminClient(_scheduler.Address, LoopbackScheduler.AdminKey);
        var replicas = (await admin.ListReplicasAsync(Model)).ToDictionary(r => r.ReplicaId);
        var lpu = replicas["rl-node-lpu-0/" + Model];
        Assert.Equal((0, _jobTokens * 3 / 2), (lpu.RequestsPerMinute, lpu.TokensPerMinute));
        Assert.InRange(lpu.TokensAvailable, _jobTokens * 3 / 2 - _jobTokens - 1, _jobTokens - 1);
        Assert.Equal((0, 0, 0.0), (replicas["rl-node-a100-0/" + Model].TokensPerMinute, replicas["rl-node-a100-0/" + Model].RequestsPerMinute, replicas["rl-node-a100-0/" + Model].TokensAvailable));

        // The LPU is still the cheaper, but its limit would send this job only about 20 s from now, past its 2 s objective.
        var next = await client.RunAsync(request, deadline: DateTime.UtcNow + Timeout);
        Assert.Equal((JobStatus.Completed, "rl-node-a100-0/" + Model), (next.Status, next.Placement!.ReplicaId));
        Assert.Single(_upstream.Calls);
    }
}
