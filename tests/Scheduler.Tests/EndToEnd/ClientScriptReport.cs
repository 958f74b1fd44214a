using System.Text.Json;
using Scheduler.Client;
using Scheduler.Protos.V1;

namespace Scheduler.Tests.EndToEnd;

/// <summary>
/// What a client script in another language saw (tests/grpc-node/check.mjs, tests/grpc-python/check.py print it as one
/// JSON line), checked against the scheduler's own records: the job it submitted belongs to its tenant; the job it
/// streamed completed critical with 12 tokens and the text it streamed; the job it cancelled ends cancelled; each job it
/// sent over one StreamJobs call completed with the tokens asked for and the text streamed; and it met every refusal.
/// </summary>
internal static class ClientScriptReport
{
    public static async Task AssertMatchesRecords(SchedulerClient client, string output, string tenantId, int manyJobs, int manyFirstTokens, int refusals)
    {
        var seen = JsonDocument.Parse(output).RootElement;
        Assert.Equal(tenantId, (await client.GetAsync(seen.GetProperty("submitted").GetString()!)).TenantId);

        var streamed = await client.GetAsync(seen.GetProperty("streamed").GetProperty("id").GetString()!);
        Assert.Equal(JobStatus.Completed, streamed.Status);
        Assert.Equal(12, streamed.Usage.CompletionTokens);
        Assert.Equal(streamed.Output, seen.GetProperty("streamed").GetProperty("text").GetString());
        Assert.Equal(Priority.Critical, streamed.Priority);

        var many = seen.GetProperty("many").EnumerateArray().ToList();
        Assert.Equal(manyJobs, many.Select(m => m.GetProperty("id").GetString()).Distinct().Count());
        foreach (var (job, i) in many.Select((m, i) => (m, i)))
        {
            var record = await client.GetAsync(job.GetProperty("id").GetString()!);
            Assert.Equal(JobStatus.Completed, record.Status);
            Assert.Equal(manyFirstTokens + i, record.Usage.CompletionTokens);
            Assert.Equal(record.Output, job.GetProperty("text").GetString());
        }

        var cancelledId = seen.GetProperty("cancelled").GetProperty("id").GetString()!;
        await Polling.Until(async () => (await client.GetAsync(cancelledId)).Status == JobStatus.Cancelled, $"job {cancelledId} cancelled", TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(100));
        Assert.Equal(refusals, seen.GetProperty("errors").GetArrayLength());
    }
}
