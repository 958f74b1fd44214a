using System.Text.RegularExpressions;
using Grpc.Core;
using Scheduler.Client;
using Scheduler.Protos.V1;

namespace Scheduler.Tests.EndToEnd;

/// <summary>The failover client against the in-process silo (its silo-failure behaviour is in the fault tests).</summary>
[Collection(SchedulerClusterCollection.Name)]
public sealed partial class FailoverJobRunnerTests(SchedulerCluster cluster)
{
    [Fact]
    public async Task RunAsync_JobNotDoneByTheDeadline_SaysWhichJobAndHowFarItGot()
    {
        using var runner = new FailoverJobRunner([cluster.Address], SchedulerCluster.Tenants[0].Key);
        var request = new SubmitJobRequest { Model = SchedulerCluster.ParkedModel, Prompt = "never runs", MaxTokens = 4 };

        var error = await Assert.ThrowsAsync<RpcException>(() => runner.RunAsync(request, deadline: DateTime.UtcNow.AddSeconds(1)));

        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        var said = DeadlineMessage().Match(error.Status.Detail);
        Assert.True(said.Success, error.Status.Detail);
        using var client = cluster.Tenant(0);
        Assert.Equal(JobStatus.Cancelled, (await client.CancelAsync(said.Groups["job"].Value)).Status);
    }

    [Fact]
    public async Task RunAsync_JobExpiresInTheQueue_ReturnsItExpired_WithoutReconnecting()
    {
        // An expired job has ended: the runner must return it, not take the stream's end for a drain and follow it again.
        using var runner = new FailoverJobRunner([cluster.Address], SchedulerCluster.Tenants[0].Key);
        var request = new SubmitJobRequest { Model = SchedulerCluster.ParkedModel, Prompt = "expires queued", MaxTokens = 4, DeadlineMs = 300 };

        var result = await runner.RunAsync(request, deadline: DateTime.UtcNow.AddSeconds(20));

        Assert.Equal((JobStatus.Expired, 0), (result.Status, result.Reconnects));
        Assert.StartsWith("DEADLINE_EXCEEDED", result.Error, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"^job (?<job>job-[0-9a-f]{32}) did not finish before the deadline \(0 tokens received, 0 reconnects\)$")]
    private static partial Regex DeadlineMessage();
}
