using Grpc.Core;
using Scheduler.Client;
using Scheduler.Protos.V1;
using Scheduler.Tests.Worker.Upstream;
using Scheduler.Worker.Engines;
using Scheduler.Worker.Hosting;

namespace Scheduler.Tests.EndToEnd;

/// <summary>
/// A model served only by a metered chat-only endpoint (Groq has no completions endpoint: engines.md's example, here
/// with a tokens-per-minute limit below its KV cache), through a worker node over real gRPC forwarding to a loopback
/// OpenAI-compatible server. The node announces what its replica can take; a job it could never run — more tokens than
/// the limit admits, or a prompt given as token ids — is refused at submission naming the field, instead of queued for
/// good or sent there to fail.
/// </summary>
public sealed class UpstreamOnlyModelTests : IAsyncLifetime
{
    private const string Model = "upstream-only-model";
    private const string TenantKey = "upstream-only-tenant-key";
    private const int TokensPerMinute = 1_000;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private FaultyUpstream _upstream = null!;
    private LoopbackScheduler _scheduler = null!;

    public async Task InitializeAsync()
    {
        _upstream = await FaultyUpstream.StartAsync();
        _upstream.Respond = FaultyUpstream.Transcript(UpstreamTranscripts.GroqChat);
        _scheduler = await LoopbackScheduler.StartAsync(Model, "upstream-only-tenant", TenantKey, "--Scheduler:Models:0:MaxContextTokens=8192");
        var options = new WorkerNodeOptions { NodeId = "upstream-only-node" };
        var lpu = new AcceleratorOptions { Product = "LPU", Model = Model, MaxContextTokens = 8192, Engine = EngineNames.Upstream };
        lpu.Upstream.BaseUrl = _upstream.BaseUri.ToString();
        lpu.Upstream.Model = "llama-3.3-70b-versatile";
        lpu.Upstream.Slots = 4;
        lpu.Upstream.ChatOnly = true;
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
    public async Task SubmitJob_NeedingMoreThanTheEndpointsTokensPerMinute_IsFailedPreconditionNamingThePrompt()
    {
        using var client = new SchedulerClient(_scheduler.Address, TenantKey);

        var ex = await Assert.ThrowsAsync<RpcException>(() => client.SubmitAsync(
            new SubmitJobRequest { Model = Model, Prompt = "What is the capital of France?", MaxTokens = 2_000 }));

        Assert.Equal(StatusCode.FailedPrecondition, ex.StatusCode);
        Assert.StartsWith("prompt: ", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Contains($"the most a replica of model '{Model}' takes is {TokensPerMinute}", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SubmitJob_GivenAsTokenIds_IsFailedPreconditionNamingThem_AndATextJobRuns()
    {
        using var client = new SchedulerClient(_scheduler.Address, TenantKey);

        var ex = await Assert.ThrowsAsync<RpcException>(() => client.SubmitAsync(
            new SubmitJobRequest { Model = Model, PromptTokenIds = { 1, 2, 3 }, MaxTokens = 4 }));

        Assert.Equal(StatusCode.FailedPrecondition, ex.StatusCode);
        Assert.Equal($"prompt_token_ids: the replicas of model '{Model}' take the prompt only as text or chat messages (a chat-only endpoint, say); send it so", ex.Status.Detail);

        var run = await client.RunAsync(new SubmitJobRequest { Model = Model, Prompt = "Hello", MaxTokens = 4 }, deadline: DateTime.UtcNow + Timeout);
        Assert.Equal(JobStatus.Completed, run.Status);
        Assert.DoesNotContain(_upstream.Calls, c => c.Path != "/v1/chat/completions");
    }
}
