using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Scheduler.Client;
using Scheduler.Protos.V1;
using Scheduler.Silo.OpenAi;

namespace Scheduler.Tests.EndToEnd.OpenAi;

/// <summary>
/// A silo told to stop (SIGTERM, a rolling restart) drains, and its OpenAI-compatible door says so the way OpenAI
/// clients retry on: a new request gets 503 with an <c>unavailable</c> error body, and a stream under way ends with an
/// error event — while the job itself runs on and completes, since nothing accepted is lost (<see cref="DrainingSilo"/>).
/// </summary>
public sealed class OpenAiDrainTests : IAsyncLifetime
{
    private const string Model = DrainingSilo.Model;
    private const string TenantKey = DrainingSilo.TenantKey;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private DrainingSilo _silo = null!;

    public async Task InitializeAsync() => _silo = await DrainingSilo.StartAsync();

    [Fact]
    public async Task StreamedCompletion_SiloStartsDraining_StreamEndsWithUnavailableEvent_JobRunsOnToCompletion()
    {
        using var http = new HttpClient { BaseAddress = _silo.OpenAi };
        using var request = Completion(stream: true);
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var jobId = response.Headers.GetValues("x-scheduler-job-id").Single();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());

        var admitted = await _silo.Node.NextAdmit(Wait);
        Assert.Equal(jobId, Assert.Single(admitted.Sequences).SequenceId);
        _silo.Node.Send(Tokens(jobId, firstIndex: 0, "Hello"));
        Assert.Equal("Hello", ChunkText(await NextData(reader)));

        _silo.Drain();

        // The stream's last event is the error an OpenAI SDK raises; the stream then ends, without [DONE].
        AssertUnavailable(await NextData(reader));
        Assert.Null(await NextData(reader));

        // The job was not cancelled by the drain: its node finishes it and its record says so.
        _silo.Node.Send(new StepReport
        {
            ReplicaId = _silo.Node.ReplicaId,
            StepMs = 10,
            Tokens = { new SequenceTokens { SequenceId = jobId, FirstTokenIndex = 1, Text = " world", TokenCount = 1 } },
            Finished = { new SequenceFinished { SequenceId = jobId, Reason = FinishReason.Length, CompletionTokens = 2 } },
        });
        using var client = new SchedulerClient(_silo.Channel, TenantKey);
        await Polling.Until(async () => (await client.GetAsync(jobId)).Status == JobStatus.Completed, "the job completes", Wait, TimeSpan.FromMilliseconds(100));
        Assert.Equal("Hello world", (await client.GetAsync(jobId)).Output);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Completion_WhileSiloDrains_Is503Unavailable_AndNoJobIsAccepted(bool stream)
    {
        _silo.Drain();

        using var http = new HttpClient { BaseAddress = _silo.OpenAi };
        using var request = Completion(stream);
        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.False(response.Headers.Contains("x-scheduler-job-id"));
        AssertUnavailable(await response.Content.ReadAsStringAsync());
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _silo.Node.NextAdmit(TimeSpan.FromSeconds(1)));
    }

    public async Task DisposeAsync() => await _silo.DisposeAsync();

    private static HttpRequestMessage Completion(bool stream)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = new StringContent(
                $$"""{"model":"{{Model}}","prompt":"say hello world","max_tokens":2,"stream":{{(stream ? "true" : "false")}}}""",
                Encoding.UTF8,
                "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TenantKey);
        return request;
    }

    private StepReport Tokens(string jobId, int firstIndex, string text) => new()
    {
        ReplicaId = _silo.Node.ReplicaId,
        StepMs = 10,
        Tokens = { new SequenceTokens { SequenceId = jobId, FirstTokenIndex = firstIndex, Text = text, TokenCount = 1 } },
    };

    private static Task<string?> NextData(StreamReader reader) => ServerSentEvents.NextDataAsync(reader, Wait);

    private static string ChunkText(string? data)
    {
        Assert.NotNull(data);
        using var json = JsonDocument.Parse(data);
        return json.RootElement.GetProperty("choices")[0].GetProperty("text").GetString()!;
    }

    private static void AssertUnavailable(string? data)
    {
        Assert.NotNull(data);
        using var json = JsonDocument.Parse(data);
        var error = json.RootElement.GetProperty("error");
        Assert.Equal("unavailable", error.GetProperty("code").GetString());
        Assert.Equal("server_error", error.GetProperty("type").GetString());
        // What an OpenAI client can do about it (send the request again), not the gRPC API's WatchJob.
        Assert.Equal(OpenAiErrors.DrainingMessage, error.GetProperty("message").GetString());
    }
}
