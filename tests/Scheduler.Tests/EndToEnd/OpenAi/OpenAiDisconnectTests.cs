using System.Net.Http.Headers;
using System.Text;
using Scheduler.Protos.V1;
using Scheduler.Tests.EndToEnd.Hostile;

namespace Scheduler.Tests.EndToEnd.OpenAi;

/// <summary>
/// A client of the OpenAI-compatible API that goes away mid-stream: its job is cancelled — the engine is told to stop
/// the sequence, freeing its slot and KV cache — unless it asked with <c>x-scheduler-keep-on-disconnect: true</c> for the
/// job to run on. The job runs on a scripted fake worker node, so it is surely mid-stream when the client leaves and the
/// test sees the cancel command the engine gets.
/// </summary>
[Collection(SchedulerClusterCollection.Name)]
public sealed class OpenAiDisconnectTests(SchedulerCluster cluster)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task StreamedCompletion_ClientDisconnects_EngineIsToldToStop_JobEndsCancelled()
    {
        await using var node = await FakeWorkerNode.StartRegisteredAsync(cluster, "openai-disconnect", SchedulerCluster.ScriptedModel);

        var jobId = await StreamThenDisconnect(node);

        Assert.Equal([jobId], (await node.NextCommand(Wait)).Cancel.SequenceIds);
        node.Send(new StepReport
        {
            ReplicaId = node.ReplicaId,
            StepMs = 10,
            Finished = { new SequenceFinished { SequenceId = jobId, Reason = FinishReason.Cancelled, CompletionTokens = 1 } },
        });
        using var client = cluster.Tenant(0);
        await Polling.Until(async () => (await client.GetAsync(jobId)).Status == JobStatus.Cancelled, "the job ends cancelled", Wait, TimeSpan.FromMilliseconds(100));
        Assert.Equal(1, (await client.GetAsync(jobId)).Usage.CompletionTokens);
    }

    [Fact]
    public async Task StreamedCompletion_ClientDisconnectsWithKeepHeader_JobRunsToTheEnd()
    {
        await using var node = await FakeWorkerNode.StartRegisteredAsync(cluster, "openai-keep", SchedulerCluster.ScriptedModel);

        var jobId = await StreamThenDisconnect(node, ("x-scheduler-keep-on-disconnect", "true"));

        // No cancel reaches the engine (a cancel follows a disconnect within milliseconds, as the test above shows).
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => node.NextCommand(TimeSpan.FromSeconds(2)));
        using var client = cluster.Tenant(0);
        Assert.Equal(JobStatus.Running, (await client.GetAsync(jobId)).Status);
        node.Send(new StepReport
        {
            ReplicaId = node.ReplicaId,
            StepMs = 10,
            Tokens = { new SequenceTokens { SequenceId = jobId, FirstTokenIndex = 1, Text = " world", TokenCount = 1 } },
            Finished = { new SequenceFinished { SequenceId = jobId, Reason = FinishReason.Length, CompletionTokens = 2 } },
        });
        await Polling.Until(async () => (await client.GetAsync(jobId)).Status == JobStatus.Completed, "the job completes", Wait, TimeSpan.FromMilliseconds(100));
        Assert.Equal("Hello world", (await client.GetAsync(jobId)).Output);
    }

    [Fact]
    public async Task StreamedCompletion_WithAnIdempotencyKey_ClientDisconnects_JobRunsOn_AndTheRetryGetsTheWholeAnswer()
    {
        // A client that sends a key means to retry (the OpenAI SDKs retry a timeout): cancelling its job on the disconnect
        // left the key bound to a cancelled job, and every retry answered 409 job_cancelled.
        await using var node = await FakeWorkerNode.StartRegisteredAsync(cluster, "openai-idempotent", SchedulerCluster.ScriptedModel);
        var key = ("Idempotency-Key", "retry-" + Guid.NewGuid().ToString("N"));

        var jobId = await StreamThenDisconnect(node, key);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => node.NextCommand(TimeSpan.FromSeconds(2)));
        using var http = new HttpClient { BaseAddress = new Uri(cluster.OpenAiAddress) };
        using var retry = Completion(stream: false, [key]);
        var answer = http.SendAsync(retry);
        node.Send(new StepReport
        {
            ReplicaId = node.ReplicaId,
            StepMs = 10,
            Tokens = { new SequenceTokens { SequenceId = jobId, FirstTokenIndex = 1, Text = " world", TokenCount = 1 } },
            Finished = { new SequenceFinished { SequenceId = jobId, Reason = FinishReason.Length, CompletionTokens = 2 } },
        });
        using var response = await answer.WaitAsync(Wait);

        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        using var completion = System.Text.Json.JsonDocument.Parse(body);
        Assert.Equal((jobId, "Hello world"), (completion.RootElement.GetProperty("id").GetString(), completion.RootElement.GetProperty("choices")[0].GetProperty("text").GetString()));
    }

    [Fact]
    public async Task StreamedCompletion_WithAnIdempotencyKeyAndKeepFalse_ClientDisconnects_JobIsCancelled()
    {
        await using var node = await FakeWorkerNode.StartRegisteredAsync(cluster, "openai-idempotent-cancel", SchedulerCluster.ScriptedModel);

        var jobId = await StreamThenDisconnect(node, ("Idempotency-Key", "cancel-" + Guid.NewGuid().ToString("N")), ("x-scheduler-keep-on-disconnect", "false"));

        Assert.Equal([jobId], (await node.NextCommand(Wait)).Cancel.SequenceIds);
    }

    /// <summary>Starts a streamed completion on <paramref name="node"/> with <paramref name="headers"/>, has the node
    /// produce a first token, reads it from the stream, and drops the connection.</summary>
    private async Task<string> StreamThenDisconnect(FakeWorkerNode node, params (string Name, string Value)[] headers)
    {
        using var http = new HttpClient { BaseAddress = new Uri(cluster.OpenAiAddress) };
        using var request = Completion(stream: true, headers);

        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        var jobId = response.Headers.GetValues("x-scheduler-job-id").Single();
        Assert.Equal(jobId, (await node.NextAdmit(Wait)).Sequences.Single().SequenceId);
        node.Send(new StepReport
        {
            ReplicaId = node.ReplicaId,
            StepMs = 10,
            Tokens = { new SequenceTokens { SequenceId = jobId, FirstTokenIndex = 0, Text = "Hello", TokenCount = 1 } },
        });

        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var line = await reader.ReadLineAsync();
        Assert.StartsWith("data: {", line, StringComparison.Ordinal);
        Assert.Contains("\"text\":\"Hello\"", line, StringComparison.Ordinal);

        // Leaving the using block closes the connection: SocketsHttpHandler does not drain a stream still open.
        return jobId;
    }

    private static HttpRequestMessage Completion(bool stream, (string Name, string Value)[] headers)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = new StringContent(
                $$"""{"model":"{{SchedulerCluster.ScriptedModel}}","prompt":"say hello world","max_tokens":2,"stream":{{(stream ? "true" : "false")}}}""",
                Encoding.UTF8,
                "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", SchedulerCluster.Tenants[0].Key);
        foreach (var (name, value) in headers)
        {
            request.Headers.Add(name, value);
        }

        return request;
    }
}
