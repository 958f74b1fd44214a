using Grpc.Core;
using Scheduler.Client;
using Scheduler.Protos.V1;
using Scheduler.Tests.Worker.Upstream;
using Scheduler.Worker.Engines;
using Scheduler.Worker.Hosting;

namespace Scheduler.Tests.EndToEnd;

/// <summary>
/// A model served only by a chat-only endpoint (Groq has no completions endpoint: engines.md's example), through a
/// worker node over real gRPC forwarding to a loopback OpenAI-compatible server: the node announces that its replica
/// takes the prompt as text or chat messages only, so a job given as token ids — which it could only fail — is refused
/// at submission naming the field, and a text job runs.
/// </summary>
public sealed class ChatOnlyUpstreamTests : IAsyncLifetime
{
    private const string Model = "chat-only-model";
    private const string TenantKey = "chat-only-tenant-key";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private FaultyUpstream _upstream = null!;
    private LoopbackScheduler _scheduler = null!;

    public async Task InitializeAsync()
    {
        _upstream = await FaultyUpstream.StartAsync();
        _upstream.Respond = FaultyUpstream.Transcript(UpstreamTranscripts.GroqChat);
        _scheduler = await LoopbackScheduler.StartAsync(Model, "chat-only-tenant", TenantKey, "--Scheduler:Models:0:MaxContextTokens=8192");
        var options = new WorkerNodeOptions { NodeId = "chat-only-node" };
        var lpu = new AcceleratorOptions { Product = "LPU", Model = Model, MaxContextTokens = 8192, Engine = EngineNames.Upstream };
        lpu.Upstream.BaseUrl = _upstream.BaseUri.ToString();
        lpu.Upstream.Model = "llama-3.3-70b-versatile";
        lpu.Upstream.Slots = 4;
        lpu.Upstream.ChatOnly = true;
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
