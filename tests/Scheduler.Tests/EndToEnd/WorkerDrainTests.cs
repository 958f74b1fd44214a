using Grpc.Core;
using Scheduler.Client;
using Scheduler.Protos.V1;

namespace Scheduler.Tests.EndToEnd;

/// <summary>
/// A worker process asked to stop (SIGTERM, as Kubernetes sends when an autoscaler scales a pool down) finishes the
/// job it runs — no hand-back, no prefill paid again elsewhere — while the scheduler sends new jobs to another node,
/// then exits on its own. Two real worker processes against a silo on loopback.
/// </summary>
public sealed class WorkerDrainTests : IAsyncLifetime
{
    private const string Model = "drain-model";
    private const string TenantKey = "drain-tenant-key";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private LoopbackScheduler _scheduler = null!;
    private WorkerProcess _stopping = null!;
    private WorkerProcess _staying = null!;

    public async Task InitializeAsync()
    {
        // A long lease: a node that ends its stream must be known gone when it does, not when its lease lapses.
        _scheduler = await LoopbackScheduler.StartAsync(Model, "drain-tenant", TenantKey, $"--Scheduler:NodeToken={SchedulerCluster.NodeToken}",
            "--Scheduler:Scheduling:NodeLease=00:02:00");
        _stopping = WorkerProcess.Start("drain-stopping", _scheduler.Address, "2", Model, ["--Worker:DrainTimeoutSeconds=60"], null, ("L4", 1, 4));
        _staying = WorkerProcess.Start("drain-staying", _scheduler.Address, "2", Model, ("L4", 1, 4));
        await _scheduler.WaitForReadyReplicas(Model, count: 2);
    }

    public async Task DisposeAsync()
    {
        await _stopping.DisposeAsync();
        await _staying.DisposeAsync();
        await _scheduler.DisposeAsync();
    }

    [Fact]
    public async Task StoppedWorker_FinishesItsRunningJob_TakesNoNewOne_AndExits()
    {
        using var admin = new SchedulerAdminClient(_scheduler.Address, LoopbackScheduler.AdminKey);
        using var client = new SchedulerClient(_scheduler.Address, TenantKey);
        var staying = Assert.Single(await admin.ListAcceleratorsAsync(), a => a.NodeId == "drain-staying");
        var stopping = Assert.Single(await admin.ListAcceleratorsAsync(), a => a.NodeId == "drain-stopping");

        // A long job on the node that will stop (the other is cordoned while it is placed).
        var running = await PinnedJob.StartAsync(admin, client, Model, staying.AcceleratorId, maxTokens: 300, Timeout);

        _stopping.Terminate();

        // The scheduler hears it at once: the stopping node's accelerator drains, and a new job goes to the other node.
        await Polling.Until(
            async () => (await admin.GetAcceleratorAsync(stopping.AcceleratorId)).State == "draining",
            "the stopping node's accelerator reads draining", TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(50));
        var next = await client.RunAsync(new SubmitJobRequest { Model = Model, Prompt = "short", MaxTokens = 8 }, deadline: DateTime.UtcNow + Timeout);
        Assert.Equal((JobStatus.Completed, "drain-staying"), (next.Status, next.Placement?.NodeId));
        Assert.False(_stopping.HasExited, "the stopping node left before its job ended");

        // The long job ended where it ran, whole, never handed back.
        var result = await running;
        var trace = await admin.ExplainJobAsync(result.JobId);
        var story = string.Join("; ", trace.Events.Select(e => $"{e.Kind}: {e.Detail}"));
        Assert.True(result.Placement?.NodeId == "drain-stopping", $"the job ended on {result.Placement?.NodeId}: {story}");
        Assert.Equal((JobStatus.Completed, 300), (result.Status, result.TokenCount));
        Assert.Equal(0, result.RepeatedTokensDropped);
        Assert.DoesNotContain(trace.Events, e => e.Kind == "handed_back");

        // Then the node exits by itself, cleanly, long before its 60 s drain bound.
        using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await _stopping.WaitForExitAsync(exit.Token);
        Assert.Equal(0, _stopping.ExitCode);

        // It left on purpose, and said so last: the scheduler forgot it (before the node's two-minute lease lapsed)
        // instead of showing it lost for the silo's lifetime.
        var accelerators = await admin.ListAcceleratorsAsync();
        Assert.DoesNotContain(accelerators, a => a.NodeId == "drain-stopping");
        Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(() => admin.GetAcceleratorAsync(stopping.AcceleratorId))).StatusCode);
        Assert.DoesNotContain(await admin.ListReplicasAsync(Model), r => r.NodeId == "drain-stopping");
        var summary = await admin.GetClusterSummaryAsync();
        Assert.Equal((1, 1, 1), (summary.Nodes, summary.Accelerators, summary.AcceleratorsReady));
    }
}
