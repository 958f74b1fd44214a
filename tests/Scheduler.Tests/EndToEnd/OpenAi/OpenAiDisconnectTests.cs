using System.Net.Http.Headers;
using System.Text;
using Scheduler.Protos.V1;

namespace Scheduler.Tests.EndToEnd.OpenAi;

/// <summary>A client of the OpenAI-compatible API that goes away mid-stream: its job is cancelled (slot and KV cache
/// freed) unless it asked with <c>x-scheduler-keep-on-disconnect: true</c> for the job to run on.</summary>
[Collection(SchedulerClusterCollection.Name)]
public sealed class OpenAiDisconnectTests(SchedulerCluster cluster)
{
    [Fact]
    public async Task StreamedCompletion_ClientDisconnects_JobIsCancelled()
    {
        var jobId = await StreamThenDisconnect(keep: false);

        var job = await WaitTerminal(jobId);
        Assert.Equal(JobStatus.Cancelled, job.Status);
        Assert.True(job.Usage.CompletionTokens < SchedulerCluster.MaxOutputTokens, $"{job.Usage.CompletionTokens} tokens");
    }

    [Fact]
    public async Task StreamedCompletion_ClientDisconnectsWithKeepHeader_JobRunsToTheEnd()
    {
        var jobId = await StreamThenDisconnect(keep: true);

        var job = await WaitTerminal(jobId);
        Assert.Equal(JobStatus.Completed, job.Status);
        Assert.Equal(SchedulerCluster.MaxOutputTokens, job.Usage.CompletionTokens);
    }

    /// <summary>Starts a long streamed completion, reads until its first tokens, checks the job is running, and drops the
    /// connection.</summary>
    private async Task<string> StreamThenDisconnect(bool keep)
    {
        using var http = new HttpClient { BaseAddress = new Uri(cluster.OpenAiAddress) };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = new StringContent(
                $$"""{"model":"{{SchedulerCluster.Model}}","prompt":"a long story","max_tokens":{{SchedulerCluster.MaxOutputTokens}},"stream":true}""",
                Encoding.UTF8,
                "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", SchedulerCluster.Tenants[0].Key);
        if (keep)
        {
            request.Headers.Add("x-scheduler-keep-on-disconnect", "true");
        }

        string jobId;
        using (var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
            jobId = response.Headers.GetValues("x-scheduler-job-id").Single();
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            string? line;
            do
            {
                line = await reader.ReadLineAsync();
            }
            while (line is not null && !(line.StartsWith("data: {", StringComparison.Ordinal) && !line.Contains("\"text\":\"\"", StringComparison.Ordinal)));

            Assert.NotNull(line);

            using var client = cluster.Tenant(0);
            Assert.Equal(JobStatus.Running, (await client.GetAsync(jobId)).Status);
        }

        // Disposed before the end: SocketsHttpHandler closes the connection rather than drain a stream still open.
        return jobId;
    }

    private async Task<Job> WaitTerminal(string jobId)
    {
        using var client = cluster.Tenant(0);
        for (var i = 0; i < 600; i++)
        {
            var job = await client.GetAsync(jobId);
            if (job.Status is JobStatus.Completed or JobStatus.Cancelled or JobStatus.Failed or JobStatus.Expired)
            {
                return job;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"job {jobId} did not end");
    }
}
