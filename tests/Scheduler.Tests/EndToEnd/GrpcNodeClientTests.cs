using System.Text.Json;
using Scheduler.Protos.V1;

namespace Scheduler.Tests.EndToEnd;

/// <summary>
/// The gRPC API driven from another language: tests/grpc-node/check.mjs loads protos/ at run time with @grpc/grpc-js and
/// @grpc/proto-loader, as a Node service would, and submits, streams, fetches and cancels jobs, sends several over one
/// StreamJobs call, runs into a deadline,
/// and checks that every refusal has its status code and a message naming the field. This checks what it saw against
/// the scheduler's own records (<see cref="NodeScript"/>: installed on first use; without node the test fails).
/// </summary>
[Collection(SchedulerClusterCollection.Name)]
public sealed class GrpcNodeClientTests(SchedulerCluster cluster)
{
    private static readonly NodeScript Script = new("grpc-node", Path.Combine("@grpc", "grpc-js"));

    [Fact]
    public async Task GrpcJsClient_SubmitsStreamsCancels_AndEveryRefusalNamesItsField()
    {
        var output = await Script.RunAsync("check.mjs", new Dictionary<string, string>
        {
            ["GRPC_ADDRESS"] = new Uri(cluster.Address).Authority,
            ["API_KEY"] = SchedulerCluster.Tenants[1].Key,
            ["MODEL"] = SchedulerCluster.Model,
        }, TimeSpan.FromSeconds(120));
        var seen = JsonDocument.Parse(output).RootElement;

        using var client = cluster.Tenant(1);
        var streamed = await client.GetAsync(seen.GetProperty("streamed").GetProperty("id").GetString()!);
        Assert.Equal(JobStatus.Completed, streamed.Status);
        Assert.Equal(12, streamed.Usage.CompletionTokens);
        Assert.Equal(streamed.Output, seen.GetProperty("streamed").GetProperty("text").GetString());
        Assert.Equal(Priority.Critical, streamed.Priority);
        Assert.Equal(SchedulerCluster.Tenants[1].Id, (await client.GetAsync(seen.GetProperty("submitted").GetString()!)).TenantId);
        var cancelledId = seen.GetProperty("cancelled").GetProperty("id").GetString()!;
        await Polling.Until(async () => (await client.GetAsync(cancelledId)).Status == JobStatus.Cancelled, $"job {cancelledId} cancelled", TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(100));
        Assert.Equal(10, seen.GetProperty("errors").GetArrayLength());

        // The jobs it sent over one StreamJobs call: each its own, completed, with the text it streamed.
        var many = seen.GetProperty("many").EnumerateArray().ToList();
        Assert.Equal(5, many.Select(m => m.GetProperty("id").GetString()).Distinct().Count());
        foreach (var (job, i) in many.Select((m, i) => (m, i)))
        {
            var record = await client.GetAsync(job.GetProperty("id").GetString()!);
            Assert.Equal(JobStatus.Completed, record.Status);
            Assert.Equal(3 + i, record.Usage.CompletionTokens);
            Assert.Equal(record.Output, job.GetProperty("text").GetString());
        }
    }
}
