using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Scheduler.Client;
using Scheduler.Protos.V1;
using Scheduler.Tests.Worker.Upstream;
using Scheduler.Worker.Engines;
using Scheduler.Worker.Hosting;

namespace Scheduler.Tests.EndToEnd;

/// <summary>
/// An upstream that always fails, behind a real scheduler and worker over loopback: every 500 hands the job back with
/// the upstream's message, <c>GetJob</c> shows it while the job is retried, and after
/// <c>Scheduler:Scheduling:MaxHandBacks</c> hand-backs the job fails with it — through the gRPC API and the OpenAI
/// front door alike — instead of bouncing between replicas for ever.
/// </summary>
public sealed class UpstreamHandBackTests : IAsyncLifetime
{
    private const string Model = "always-failing";
    private const string TenantKey = "handback-e2e-tenant-key";
    private const string UpstreamMessage = "the model server crashed: CUDA error 700";
    private const int MaxHandBacks = 2;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private FaultyUpstream _upstream = null!;
    private LoopbackScheduler _scheduler = null!;
    private string _address = "";
    private string _openAiAddress = "";

    public async Task InitializeAsync()
    {
        _upstream = await FaultyUpstream.StartAsync();
        _upstream.Respond = FaultyUpstream.Status(500, UpstreamMessage);
        _scheduler = await LoopbackScheduler.StartAsync(Model, "handback-tenant", TenantKey,
            "--Scheduler:Models:0:MaxContextTokens=512", "--Scheduler:Models:0:MaxOutputTokens=64",
            $"--Scheduler:Scheduling:MaxHandBacks={MaxHandBacks}",

            // Each hand-back holds the replica until this passes (it runs nothing else that could finish).
            "--Scheduler:Scheduling:RejectionHold=00:00:00.200");
        (_address, _openAiAddress) = (_scheduler.Address, _scheduler.OpenAiAddress);

        var options = new WorkerNodeOptions { NodeId = "failing-upstream" };
        var group = new AcceleratorOptions { Product = "L4", Model = Model, MaxContextTokens = 512, Engine = EngineNames.Upstream };
        group.Upstream.BaseUrl = _upstream.BaseUri.AbsoluteUri;
        group.Upstream.Model = "upstream-model";
        group.Upstream.Slots = 2;
        options.Accelerators.Add(group);
        await _scheduler.StartNodeAsync(options);
        await _scheduler.WaitForReadyReplicas(Model);
    }

    public async Task DisposeAsync()
    {
        await _scheduler.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    [Fact]
    public async Task AlwaysFailingUpstream_GetJobShowsItsMessage_ThenTheJobFailsWithIt_AfterMaxHandBacks()
    {
        // The second request waits until the test has read the job after the first failure, so what GetJob shows
        // between two hand-backs is seen for certain, not raced.
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var requests = 0;
        var fail = FaultyUpstream.Status(500, UpstreamMessage);
        _upstream.Respond = async context =>
        {
            if (Interlocked.Increment(ref requests) == 2)
            {
                await seen.Task.WaitAsync(context.RequestAborted);
            }

            await fail(context);
        };
        using var client = new SchedulerClient(_address, TenantKey);

        var submitted = await client.SubmitAsync(new SubmitJobRequest { Model = Model, Prompt = "hello", MaxTokens = 8 }, deadline: DateTime.UtcNow + Timeout);
        Job waiting = null!;
        await Polling.Until(
            async () => (waiting = await client.GetAsync(submitted.JobId)).HandBacks == 1,
            "GetJob shows the first hand-back",
            Timeout,
            TimeSpan.FromMilliseconds(20));
        seen.SetResult();
        var ended = await client.AttachAsync(submitted.JobId, deadline: DateTime.UtcNow + Timeout);

        // The record hears of the last hand-back with the outcome it caused, as separate one-way notices.
        Job record = null!;
        await Polling.Until(
            async () => (record = await client.GetAsync(submitted.JobId)).HandBacks == MaxHandBacks + 1,
            "the record shows the last hand-back",
            Timeout,
            TimeSpan.FromMilliseconds(50));

        // While it was retried: not ended, no error of its own, the upstream's message as the reason it waits.
        Assert.True(waiting.Status is JobStatus.Queued or JobStatus.Running, $"The job was {waiting.Status} between hand-backs.");
        Assert.Equal("", waiting.Error);
        Assert.StartsWith($"upstream {_upstream.BaseUri}v1/completions answered 500 Internal Server Error: {UpstreamMessage}", waiting.LastHandBackError, StringComparison.Ordinal);

        // Then: failed with it once handed back more than MaxHandBacks times — one request per run, none after.
        Assert.Equal(JobStatus.Failed, ended.Status);
        Assert.Equal(JobStatus.Failed, record.Status);
        Assert.Equal("error", record.FinishReason);
        Assert.Equal(ended.Error, record.Error);
        Assert.Contains($"handed it back {MaxHandBacks + 1} times", record.Error, StringComparison.Ordinal);
        Assert.EndsWith($"answered 500 Internal Server Error: {UpstreamMessage}", record.Error, StringComparison.Ordinal);
        Assert.StartsWith($"upstream {_upstream.BaseUri}v1/completions answered 500", record.LastHandBackError, StringComparison.Ordinal);
        Assert.Equal(MaxHandBacks + 1, Volatile.Read(ref requests));
        Assert.Equal(0, ended.TokenCount);
    }

    [Fact]
    public async Task AlwaysFailingUpstream_OpenAiCompletion_AnswersWithTheUpstreamsMessage()
    {
        using var http = new HttpClient { BaseAddress = new Uri(_openAiAddress), Timeout = Timeout };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = new StringContent($$"""{"model":"{{Model}}","prompt":"hello","max_tokens":8}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TenantKey);

        using var response = await http.SendAsync(request);

        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        using var error = JsonDocument.Parse(body);
        var message = error.RootElement.GetProperty("error").GetProperty("message").GetString();
        Assert.Contains($"handed it back {MaxHandBacks + 1} times", message, StringComparison.Ordinal);
        Assert.EndsWith($"answered 500 Internal Server Error: {UpstreamMessage}", message, StringComparison.Ordinal);
        Assert.Equal(MaxHandBacks + 1, _upstream.Calls.Count);
    }
}
