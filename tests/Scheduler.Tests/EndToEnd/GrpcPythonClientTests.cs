using System.Text.Json;
using Scheduler.Protos.V1;

namespace Scheduler.Tests.EndToEnd;

/// <summary>
/// The gRPC API driven from Python: tests/grpc-python/check.py compiles protos/ with protoc at run time and calls the
/// silo through grpcio — gRPC's C core, a third HTTP/2 implementation beside .NET's and Node's — submitting (with an
/// idempotency key), streaming, sending several jobs over one StreamJobs call, fetching, cancelling, running into a
/// deadline and checking that every refusal has its status code and a message naming the field. This checks what it saw
/// against the scheduler's records. It needs Debian's python3-grpcio, python3-protobuf and protobuf-compiler (.ci/run
/// installs them) and runs /usr/bin/python3, whose packages those are; without them the test fails, it never skips.
/// </summary>
[Collection(SchedulerClusterCollection.Name)]
public sealed class GrpcPythonClientTests(SchedulerCluster cluster)
{
    [Fact]
    public async Task GrpcioClient_SubmitsStreamsMultiplexesCancels_AndEveryRefusalNamesItsField()
    {
        var output = await BoundedProcess.RunToSuccessAsync(
            "/usr/bin/python3",
            "check.py",
            Path.Combine(RepoPaths.Root, "tests", "grpc-python"),
            new Dictionary<string, string>
            {
                ["GRPC_ADDRESS"] = new Uri(cluster.Address).Authority,
                ["API_KEY"] = SchedulerCluster.Tenants[2].Key,
                ["MODEL"] = SchedulerCluster.Model,
            },
            TimeSpan.FromSeconds(120));
        var seen = JsonDocument.Parse(output).RootElement;

        using var client = cluster.Tenant(2);
        var streamed = await client.GetAsync(seen.GetProperty("streamed").GetProperty("id").GetString()!);
        Assert.Equal(JobStatus.Completed, streamed.Status);
        Assert.Equal(Priority.Critical, streamed.Priority);
        Assert.Equal(streamed.Output, seen.GetProperty("streamed").GetProperty("text").GetString());
        Assert.Equal(SchedulerCluster.Tenants[2].Id, (await client.GetAsync(seen.GetProperty("submitted").GetString()!)).TenantId);

        var many = seen.GetProperty("many").EnumerateArray().ToList();
        Assert.Equal(6, many.Select(m => m.GetProperty("id").GetString()).Distinct().Count());
        foreach (var (job, i) in many.Select((m, i) => (m, i)))
        {
            var record = await client.GetAsync(job.GetProperty("id").GetString()!);
            Assert.Equal(JobStatus.Completed, record.Status);
            Assert.Equal(2 + i, record.Usage.CompletionTokens);
            Assert.Equal(record.Output, job.GetProperty("text").GetString());
        }

        var cancelledId = seen.GetProperty("cancelled").GetString()!;
        await Polling.Until(async () => (await client.GetAsync(cancelledId)).Status == JobStatus.Cancelled, $"job {cancelledId} cancelled", TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(100));
        Assert.Equal(5, seen.GetProperty("errors").GetArrayLength());
    }
}
