using Grpc.Core;
using Scheduler.Client;
using Scheduler.Protos.V1;
using Scheduler.Tests.Worker.Upstream;
using Scheduler.Worker.Engines;
using Scheduler.Worker.Hosting;

namespace Scheduler.Tests.EndToEnd;

/// <summary>
/// A model served only by a metered endpoint whose tokens-per-minute limit is smaller than its KV cache: a job that
/// needs more than that limit can never run there (the engine refuses it), so the front door refuses it at once,
/// naming the field, instead of queueing it for good.
/// </summary>
public sealed class MeteredOnlyModelTests : IAsyncLifetime
{
    private const string Model = "metered-only-model";
    private const string TenantKey = "metered-only-tenant-key";
    private const int TokensPerMinute = 1_000;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private FaultyUpstream _upstream = null!;
    private LoopbackScheduler _scheduler = null!;

    public async Task InitializeAsync()
    {
        _upstream = await FaultyUpstream.StartAsync();
        _upstream.Respond = FaultyUpstream.Transcript(UpstreamTranscripts.VllmCompletion);
        _scheduler = await LoopbackScheduler.StartAsync(Model, "metered-only-tenant", TenantKey, "--Scheduler:Models:0:MaxContextTokens=8192");
        var options = new WorkerNodeOptions { NodeId = "metered-only-node" };
        var lpu = new AcceleratorOptions { Product = "LPU", Model = Model, MaxContextTokens = 8192, Engine = EngineNames.Upstream };
        lpu.Upstream.BaseUrl = _upstream.BaseUri.ToString();
        lpu.Upstream.Model = "meta-llama/Llama-3.1-8B-Instruct";
        lpu.Upstream.Slots = 4;
        lpu.Upstream.TokensPerMinute = TokensPerMinute;
        options.Accelerators.Add(lpu);
        await _scheduler.StartNodeAsync(options);
        await _scheduler.WaitForReadyReplicas(Model);
    }

    public async Task DisposeAsync()
    {
        await _scheduler.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    [Fact]
    public async Task SubmitJob_NeedingMoreThanTheEndpointsTokensPerMinute_IsFailedPrecondition_AndAJobWithinItRuns()
    {
        using var client = new SchedulerClient(_scheduler.Address, TenantKey);

        var ex = await Assert.ThrowsAsync<RpcException>(() => client.SubmitAsync(
            new SubmitJobRequest { Model = Model, Prompt = "What is the capital of France?", MaxTokens = 2_000 }));

        Assert.Equal(StatusCode.FailedPrecondition, ex.StatusCode);
        Assert.Contains($"the most a replica of model '{Model}' takes is {TokensPerMinute}", ex.Status.Detail, StringComparison.Ordinal);
        Assert.StartsWith("prompt: ", ex.Status.Detail, StringComparison.Ordinal);

        var run = await client.RunAsync(new SubmitJobRequest { Model = Model, Prompt = "What is the capital of France?", MaxTokens = 4 }, deadline: DateTime.UtcNow + Timeout);
        Assert.Equal(JobStatus.Completed, run.Status);
    }
}
