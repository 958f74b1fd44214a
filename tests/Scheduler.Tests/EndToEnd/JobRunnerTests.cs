using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Grpc.Core;
using Scheduler.Client;
using Scheduler.Protos.V1;

namespace Scheduler.Tests.EndToEnd;

/// <summary>What both failover clients promise, against the in-process silo: <see cref="FailoverJobRunner"/> (a call per
/// job) and <see cref="MultiplexedJobRunner"/> (many jobs over one StreamJobs call). Their silo-failure behaviour is in
/// the fault tests; what only the multiplexed one does is in <see cref="MultiplexedJobRunnerTests"/>.</summary>
[Collection(SchedulerClusterCollection.Name)]
public sealed partial class JobRunnerTests(SchedulerCluster cluster)
{
    public static TheoryData<bool> Runners => new() { false, true };

    [Theory]
    [MemberData(nameof(Runners))]
    public async Task RunAsync_JobNotDoneByTheDeadline_SaysWhichJobAndHowFarItGot_AndTheRunnerServesTheNextJob(bool multiplexed)
    {
        using var runner = Runner(multiplexed, 0);
        var request = new SubmitJobRequest { Model = SchedulerCluster.ParkedModel, Prompt = "never runs", MaxTokens = 4 };

        var error = await Assert.ThrowsAsync<RpcException>(() => runner.RunAsync(request, deadline: DateTime.UtcNow.AddSeconds(1)));

        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        var said = DeadlineMessage().Match(error.Status.Detail);
        Assert.True(said.Success, error.Status.Detail);
        using var client = cluster.Tenant(0);
        Assert.Equal(JobStatus.Cancelled, (await client.CancelAsync(said.Groups["job"].Value)).Status);
        var next = new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "next", MaxTokens = 2 };
        Assert.True((await runner.RunAsync(next, deadline: DateTime.UtcNow.AddSeconds(60))).Succeeded);
    }

    [Theory]
    [MemberData(nameof(Runners))]
    public async Task RunAsync_JobExpiresInTheQueue_ReturnsItExpired_WithoutReconnecting(bool multiplexed)
    {
        // An expired job has ended: the runner must return it, not take the stream's end for a drain and follow it again.
        using var runner = Runner(multiplexed, 0);
        var request = new SubmitJobRequest { Model = SchedulerCluster.ParkedModel, Prompt = "expires queued", MaxTokens = 4, DeadlineMs = 300 };

        var result = await runner.RunAsync(request, deadline: DateTime.UtcNow.AddSeconds(20));

        Assert.Equal((JobStatus.Expired, 0), (result.Status, result.Reconnects));
        Assert.StartsWith("DEADLINE_EXCEEDED", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Runners))]
    public async Task RunAsync_FirstSiloAcceptsAndNeverAnswers_IsGivenUp_AndTheJobRunsOnTheNext(bool multiplexed)
    {
        // A frozen silo (SIGSTOP, a stalled VM) or one behind a network that drops its packets: the kernel takes the
        // connection and no answer ever comes. The runner's call on it waited until the job's deadline, the next silo
        // never tried; a listener that never accepts is that silo.
        using var frozen = new TcpListener(IPAddress.Loopback, 0);
        frozen.Start();
        string[] addresses = [$"http://127.0.0.1:{((IPEndPoint)frozen.LocalEndpoint).Port}", cluster.Address];
        using IJobRunner runner = multiplexed
            ? new MultiplexedJobRunner(addresses, SchedulerCluster.Tenants[0].Key)
            : new FailoverJobRunner(addresses, SchedulerCluster.Tenants[0].Key);
        var request = new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "past a frozen silo", MaxTokens = 3 };

        var result = await runner.RunAsync(request, deadline: DateTime.UtcNow.AddSeconds(60));

        Assert.True(result.Succeeded, result.Error);
        Assert.Equal(3, result.TokenCount);
    }

    private IJobRunner Runner(bool multiplexed, int tenant) => multiplexed
        ? new MultiplexedJobRunner([cluster.Address], SchedulerCluster.Tenants[tenant].Key)
        : new FailoverJobRunner([cluster.Address], SchedulerCluster.Tenants[tenant].Key);

    [GeneratedRegex(@"^job (?<job>job-[0-9a-f]{32}) did not finish before the deadline \(0 tokens received, 0 reconnects\)$")]
    private static partial Regex DeadlineMessage();
}
