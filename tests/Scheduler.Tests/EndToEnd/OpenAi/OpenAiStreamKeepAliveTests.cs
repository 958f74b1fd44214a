using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using Scheduler.Protos.V1;

namespace Scheduler.Tests.EndToEnd.OpenAi;

/// <summary>A streamed answer whose job waits, read over HTTP from the live silo as an SSE client behind a proxy
/// would: it must not fall silent for longer than the keep-alive interval.</summary>
[Collection(SchedulerClusterCollection.Name)]
public sealed class OpenAiStreamKeepAliveTests(SchedulerCluster cluster)
{
    private const string Comment = ": keep-alive";

    [Fact]
    public async Task AStreamWhoseJobWaitsInTheQueue_GetsAKeepAliveCommentEveryInterval_AndItsJobWaitsOn()
    {
        // The parked model has no replica, so its job waits. The stream was silent from the role chunk to the first
        // token: a proxy's idle timeout (60 s is common) cut it, and the silo cancelled the job of the client it lost.
        using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        using var message = new HttpRequestMessage(HttpMethod.Post, cluster.OpenAiAddress + "/v1/chat/completions")
        {
            Content = new StringContent(
                $$"""{"model":"{{SchedulerCluster.ParkedModel}}","messages":[{"role":"user","content":"wait"}],"max_tokens":2,"stream":true}""",
                Encoding.UTF8, "application/json"),
        };
        message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", SchedulerCluster.Tenants[0].Key);
        using var response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead);
        var jobId = response.Headers.GetValues("x-scheduler-job-id").Single();
        using var grpc = cluster.Tenant(0);
        try
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var data = new List<string>();
            var comments = new List<TimeSpan>();
            var clock = Stopwatch.StartNew();
            while (comments.Count < 2 && await reader.ReadLineAsync(timeout.Token) is { } line)
            {
                if (line == Comment)
                {
                    comments.Add(clock.Elapsed);
                }
                else if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    data.Add(line);
                }
            }

            var interval = TimeSpan.FromSeconds(SchedulerCluster.OpenAiStreamKeepAliveSeconds);
            Assert.Equal(2, comments.Count);
            Assert.InRange(comments[1] - comments[0], interval * 0.5, interval * 4);
            Assert.Contains("\"role\":\"assistant\"", Assert.Single(data), StringComparison.Ordinal);
            Assert.Equal(JobStatus.Queued, (await grpc.GetAsync(jobId)).Status);
        }
        finally
        {
            await grpc.CancelAsync(jobId);
        }
    }
}
