namespace Scheduler.Tests.EndToEnd;

/// <summary>
/// The gRPC API driven from another language: tests/grpc-node/check.mjs loads protos/ at run time with @grpc/grpc-js and
/// @grpc/proto-loader, as a Node service would, and submits, streams, fetches and cancels jobs, sends several over one
/// StreamJobs call, runs into a deadline, and checks that every refusal has its status code and a message naming the
/// field. This checks what it saw against the scheduler's own records (<see cref="ClientScriptReport"/>). Its packages
/// are installed on first use (<see cref="NodeScript"/>); without node the test fails.
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

        using var client = cluster.Tenant(1);
        await ClientScriptReport.AssertMatchesRecords(client, output, SchedulerCluster.Tenants[1].Id, manyJobs: 5, manyFirstTokens: 3, refusals: 10);
    }
}
