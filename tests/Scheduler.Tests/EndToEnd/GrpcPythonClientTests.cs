using Scheduler.Protos.V1;

namespace Scheduler.Tests.EndToEnd;

/// <summary>
/// The gRPC API driven from Python: tests/grpc-python/check.py compiles protos/ with protoc at run time and calls the
/// silo through grpcio — gRPC's C core, a third HTTP/2 implementation beside .NET's and Node's — submitting (with an
/// idempotency key), streaming, sending several jobs over one StreamJobs call, fetching, cancelling, running into a
/// deadline, checking that every refusal has its status code and a message naming the field (a key of the wrong kind
/// a reused idempotency key, one with a NUL, and a long model name echoed whole characters only, among them), that a StreamJobs refusal by a quota carries the quota and the tenant's
/// rate-limit standing as fields, and that the health service answers by service name. This checks what it
/// saw against the scheduler's records (<see cref="ClientScriptReport"/>). It needs Debian's python3-grpcio,
/// python3-protobuf and protobuf-compiler (.ci/run installs them) and runs /usr/bin/python3, whose packages those are;
/// without them the test fails, it never skips.
/// </summary>
[Collection(SchedulerClusterCollection.Name)]
public sealed class GrpcPythonClientTests(SchedulerCluster cluster)
{
    [Fact]
    public async Task GrpcioClient_SubmitsStreamsMultiplexesCancels_AndEveryRefusalNamesItsField()
    {
        // A tenant of its own allowed one request a minute, whose StreamJobs refusal the script reads for pacing.
        var pacedKey = await cluster.NewTenantKey("paced-python", new TenantQuotas { RequestsPerMinute = 1 });

        var output = await BoundedProcess.RunToSuccessAsync(
            "/usr/bin/python3",
            "check.py",
            Path.Combine(RepoPaths.Root, "tests", "grpc-python"),
            new Dictionary<string, string>
            {
                ["GRPC_ADDRESS"] = new Uri(cluster.Address).Authority,
                ["API_KEY"] = SchedulerCluster.Tenants[2].Key,
                ["ADMIN_KEY"] = SchedulerCluster.AdminKey,
                ["PACED_API_KEY"] = pacedKey,
                ["MODEL"] = SchedulerCluster.Model,
            },
            TimeSpan.FromSeconds(120));

        using var client = cluster.Tenant(2);
        await ClientScriptReport.AssertMatchesRecords(client, output, SchedulerCluster.Tenants[2].Id, manyJobs: 6, manyFirstTokens: 2, refusals: 10);
    }
}
