using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Scheduler.Silo.OpenAi;
using Scheduler.Tests.EndToEnd.OpenAi;
using Xunit.Abstractions;

namespace Scheduler.Tests.Faults;

/// <summary>An OpenAI client whose silo drains mid-answer does what the error tells it — sends the request again — and
/// another silo answers: with the same Idempotency-Key, the same job and its whole answer (two silo processes on Redis,
/// a worker at the profiles' real speed so the answer is still streaming when the silo is told to stop).</summary>
[Collection(SiloFaultCollection.Name)]
public sealed class OpenAiFailoverTests(ITestOutputHelper output)
{
    private const int MaxTokens = 600;

    [Fact]
    public Task StreamOnADrainingSilo_EndsWithUnavailable_AndTheRetryWithItsKeyOnAnotherSilo_StreamsTheSameJobsWholeAnswer() =>
        FaultCluster.RunAsync(output, async cluster =>
        {
            var (draining, other) = (cluster.Silos[0], cluster.Silos[1]);
            var key = "oa-failover-" + Guid.NewGuid().ToString("N");
            using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(2) };

            using var first = await Send(http, draining.OpenAiAddress, key);
            var firstJob = first.Headers.GetValues("x-scheduler-job-id").Single();
            using var firstReader = new StreamReader(await first.Content.ReadAsStreamAsync());
            var firstText = new StringBuilder();
            for (var chunks = 0; chunks < 20; chunks++)
            {
                firstText.Append(DeltaText(await NextData(firstReader)));
            }

            draining.Terminate();
            string? data;
            while ((data = await NextData(firstReader)) is not null && !data.Contains("\"error\"", StringComparison.Ordinal))
            {
                firstText.Append(DeltaText(data));
            }

            Assert.NotNull(data);
            using (var error = JsonDocument.Parse(data))
            {
                Assert.Equal(("unavailable", OpenAiErrors.DrainingMessage),
                    (error.RootElement.GetProperty("error").GetProperty("code").GetString(), error.RootElement.GetProperty("error").GetProperty("message").GetString()));
            }

            // The retry, as the message says: the same request and key, to another silo — and again after a 503, as the
            // OpenAI SDKs do, while the cluster settles (the drained silo's grains move: the tenant's for one).
            using var retry = await SendRetrying503(http, other.OpenAiAddress, key);
            using var retryReader = new StreamReader(await retry.Content.ReadAsStreamAsync());
            var retryText = new StringBuilder();
            string? finish = null;
            var completionTokens = 0;
            while ((data = await NextData(retryReader)) is not null && data != "[DONE]")
            {
                using var chunk = JsonDocument.Parse(data);
                Assert.False(chunk.RootElement.TryGetProperty("error", out _), data);
                foreach (var choice in chunk.RootElement.GetProperty("choices").EnumerateArray())
                {
                    retryText.Append(choice.GetProperty("delta").TryGetProperty("content", out var content) ? content.GetString() : "");
                    finish = choice.TryGetProperty("finish_reason", out var reason) && reason.ValueKind == JsonValueKind.String ? reason.GetString() : finish;
                }

                if (chunk.RootElement.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
                {
                    completionTokens = usage.GetProperty("completion_tokens").GetInt32();
                }
            }

            Assert.Equal("[DONE]", data);
            Assert.Equal(firstJob, retry.Headers.GetValues("x-scheduler-job-id").Single());
            Assert.Equal(("length", MaxTokens), (finish, completionTokens));
            Assert.StartsWith(firstText.ToString(), retryText.ToString(), StringComparison.Ordinal);
            Assert.True(retryText.Length > firstText.Length, "the retry streams the rest of the answer too");
        }, silos: 2, workers: 1, speedUp: "1");

    private async Task<HttpResponseMessage> SendRetrying503(HttpClient http, string openAi, string idempotencyKey)
    {
        for (var attempt = 1; ; attempt++)
        {
            var response = await Send(http, openAi, idempotencyKey, ensureSuccess: false);
            if (response.StatusCode != System.Net.HttpStatusCode.ServiceUnavailable || attempt == 10)
            {
                output.WriteLine($"the retry was answered {(int)response.StatusCode} at attempt {attempt}");
                response.EnsureSuccessStatusCode();
                return response;
            }

            response.Dispose();
            await Task.Delay(TimeSpan.FromMilliseconds(500));
        }
    }

    private static async Task<HttpResponseMessage> Send(HttpClient http, string openAi, string idempotencyKey, bool ensureSuccess = true)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, openAi + "/v1/chat/completions")
        {
            Content = new StringContent(
                $$"""{"model":"{{FaultCluster.Model}}","stream":true,"max_tokens":{{MaxTokens}},"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"tell me a long story"}]}""",
                Encoding.UTF8,
                "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", FaultCluster.Tenants[0].Key);
        request.Headers.Add("Idempotency-Key", idempotencyKey);
        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        if (ensureSuccess)
        {
            response.EnsureSuccessStatusCode();
        }

        return response;
    }

    private static Task<string?> NextData(StreamReader reader) => ServerSentEvents.NextDataAsync(reader, TimeSpan.FromSeconds(60));

    private static string DeltaText(string? data)
    {
        Assert.NotNull(data);
        using var chunk = JsonDocument.Parse(data);
        return string.Concat(chunk.RootElement.GetProperty("choices").EnumerateArray()
            .Select(c => c.GetProperty("delta").TryGetProperty("content", out var content) ? content.GetString() : ""));
    }
}
