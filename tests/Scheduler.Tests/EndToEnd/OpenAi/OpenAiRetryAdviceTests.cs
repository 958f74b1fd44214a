using System.Net;
using System.Text;
using System.Text.Json;
using Scheduler.Protos.V1;

namespace Scheduler.Tests.EndToEnd.OpenAi;

/// <summary>Refusals that the same request meets again, over HTTP to the live silo: OpenAI's Python and Node SDKs retry a
/// 409 and a 429 twice by default unless the answer carries <c>x-should-retry: false</c>, so each says it.</summary>
[Collection(SchedulerClusterCollection.Name)]
public sealed class OpenAiRetryAdviceTests(SchedulerCluster cluster)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task IdempotencyKeyReusedWithAnotherRequest_Is409_ThatTheSdksAreToldNotToRetry()
    {
        var key = "reused-" + Guid.NewGuid().ToString("N");
        using var first = await Post(Chat("first", SchedulerCluster.Model), SchedulerCluster.Tenants[0].Key, key);
        using var second = await Post(Chat("second", SchedulerCluster.Model), SchedulerCluster.Tenants[0].Key, key);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal((HttpStatusCode.Conflict, "idempotency_key_reused"), (second.StatusCode, await Code(second)));
        Assert.Equal(["false"], second.Headers.GetValues("x-should-retry"));
        Assert.False(first.Headers.Contains("x-should-retry"));
    }

    [Fact]
    public async Task AWholeAnswerWhoseJobIsCancelled_Is409_ThatTheSdksAreToldNotToRetry()
    {
        // Retried, the request would run as a new job: the job its operator cancelled, again, up to twice.
        var (tenantId, key) = await NewTenant();
        var answer = Post(Chat("to be cancelled", SchedulerCluster.ParkedModel), key);
        using var admin = cluster.Admin();
        string? jobId = null;
        await Polling.Until(
            async () => (jobId = (await admin.ListJobsAsync(new ListJobsRequest { TenantId = tenantId })).Jobs.SingleOrDefault()?.JobId) is not null,
            "the request's job is queued",
            Wait,
            TimeSpan.FromMilliseconds(50));
        using (var client = cluster.ClientWithKey(key))
        {
            await client.CancelAsync(jobId!);
        }

        using var cancelled = await answer;

        Assert.Equal((HttpStatusCode.Conflict, "job_cancelled"), (cancelled.StatusCode, await Code(cancelled)));
        Assert.Equal(["false"], cancelled.Headers.GetValues("x-should-retry"));
    }

    private async Task<(string TenantId, string Key)> NewTenant()
    {
        using var admin = cluster.Admin();
        var (tenantId, key) = ("retry-advice-" + Guid.NewGuid().ToString("N")[..8], "retry-advice-key-" + Guid.NewGuid().ToString("N")[..8]);
        await admin.PutTenantAsync(new PutTenantRequest { TenantId = tenantId, Weight = 1, ApiKey = key });
        return (tenantId, key);
    }

    private static object Chat(string text, string model) =>
        new { model, max_tokens = 2, messages = new[] { new { role = "user", content = text } } };

    private static async Task<string?> Code(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("code").GetString();

    private async Task<HttpResponseMessage> Post(object request, string apiKey, string? idempotencyKey = null)
    {
        using var http = new HttpClient();
        using var message = new HttpRequestMessage(HttpMethod.Post, cluster.OpenAiAddress + "/v1/chat/completions")
        {
            Content = new StringContent(JsonSerializer.Serialize(request), Encoding.UTF8, "application/json"),
        };
        message.Headers.Authorization = new("Bearer", apiKey);
        if (idempotencyKey is not null)
        {
            message.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        var response = await http.SendAsync(message);
        await response.Content.LoadIntoBufferAsync();
        return response;
    }
}
