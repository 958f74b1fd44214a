using Scheduler.Client;
using Scheduler.Protos.V1;
using Scheduler.Tests.EndToEnd;

namespace Scheduler.Tests.Cli;

/// <summary>
/// <c>schedctl forget-node</c>: a node that is gone for good (killed, its machine dead) stops reading lost — it left
/// the accelerators listing, the summary's count and the lost-accelerators alert with it — while a connected node is
/// refused, named. A silo on loopback and two worker processes, one killed with SIGKILL.
/// </summary>
public sealed class ForgetNodeTests : IAsyncLifetime
{
    private const string Model = "forget-model";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private LoopbackScheduler _scheduler = null!;
    private WorkerProcess _gone = null!;
    private WorkerProcess _live = null!;

    public async Task InitializeAsync()
    {
        _scheduler = await LoopbackScheduler.StartAsync(Model, "forget-tenant", "forget-tenant-key", $"--Scheduler:NodeToken={SchedulerCluster.NodeToken}");
        _gone = WorkerProcess.Start("forget-gone", _scheduler.Address, "instant", Model, ("L4", 1, 4));
        _live = WorkerProcess.Start("forget-live", _scheduler.Address, "instant", Model, ("L4", 1, 4));
        await _scheduler.WaitForReadyReplicas(Model, count: 2);
    }

    public async Task DisposeAsync()
    {
        await _gone.DisposeAsync();
        await _live.DisposeAsync();
        await _scheduler.DisposeAsync();
    }

    [Fact]
    public async Task ForgetNode_ALostNodeLeavesTheListings_AConnectedOneIsRefusedByName()
    {
        using var admin = new SchedulerAdminClient(_scheduler.Address, LoopbackScheduler.AdminKey);
        _gone.Kill();
        await _gone.WaitForExitAsync();
        await Polling.Until(async () => (await admin.ListAcceleratorsAsync()).Any(a => a.NodeId == "forget-gone" && a.State == "lost"),
            "the killed node's accelerator reads lost", Timeout, TimeSpan.FromMilliseconds(100));

        var (exit, stdout, stderr) = await Run("forget-node", "forget-live");
        Assert.NotEqual(0, exit);
        Assert.Contains("FailedPrecondition", stderr, StringComparison.Ordinal);
        Assert.Contains("'forget-live' is connected", stderr, StringComparison.Ordinal);

        (exit, stdout, stderr) = await Run("forget-node", "forget-gone");
        Assert.True(exit == 0, stderr);
        Assert.StartsWith("forgot node forget-gone: 1 accelerators", stdout, StringComparison.Ordinal);

        var accelerator = Assert.Single(await admin.ListAcceleratorsAsync());
        Assert.Equal(("forget-live", "ready"), (accelerator.NodeId, accelerator.State));
        var summary = await admin.GetClusterSummaryAsync();
        Assert.Equal((1, 1, 1, 1), (summary.Nodes, summary.Accelerators, summary.AcceleratorsReady, summary.Replicas));
        Assert.DoesNotContain(await admin.ListReplicasAsync(Model), r => r.NodeId == "forget-gone");

        (exit, _, stderr) = await Run("forget-node", "forget-gone");
        Assert.NotEqual(0, exit);
        Assert.Contains("NotFound", stderr, StringComparison.Ordinal);
        var audit = await admin.ListAuditEventsAsync(new ListAuditEventsRequest());
        Assert.Contains(audit, e => e.Action == "node.forget" && e.Target == "forget-gone" && e.Outcome == "ok");
    }

    private Task<(int ExitCode, string Stdout, string Stderr)> Run(params string[] arguments) =>
        Schedctl.Run(["--address", _scheduler.Address, "--admin-key", LoopbackScheduler.AdminKey, .. arguments]);
}
