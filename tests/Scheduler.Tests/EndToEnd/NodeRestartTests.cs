using Scheduler.Client;

namespace Scheduler.Tests.EndToEnd;

/// <summary>
/// A worker started without <c>Worker:NodeId</c> (as the README's cluster does outside Kubernetes) is the same node
/// after a crash and a restart on its port: an outside probe found each restart made a new node, the last one's
/// accelerators shown lost for the silos' lifetime and its cordons lost. A silo on loopback, worker processes.
/// </summary>
public sealed class NodeRestartTests : IAsyncLifetime
{
    private const string Model = "restart-model";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private LoopbackScheduler _scheduler = null!;
    private readonly int _port = FreePort.Next();
    private readonly List<WorkerProcess> _workers = [];

    public async Task InitializeAsync() =>
        _scheduler = await LoopbackScheduler.StartAsync(Model, "restart-tenant", "restart-tenant-key", $"--Scheduler:NodeToken={SchedulerCluster.NodeToken}");

    public async Task DisposeAsync()
    {
        foreach (var worker in _workers)
        {
            await worker.DisposeAsync();
        }

        await _scheduler.DisposeAsync();
    }

    [Fact]
    public async Task WorkerWithoutNodeId_KilledAndStartedAgainOnItsPort_IsTheSameNode_ItsCordonKept()
    {
        using var admin = new SchedulerAdminClient(_scheduler.Address, LoopbackScheduler.AdminKey);
        var first = Start();
        await _scheduler.WaitForReadyReplicas(Model);
        var accelerator = Assert.Single(await admin.ListAcceleratorsAsync());
        Assert.Equal($"{Environment.MachineName.ToLowerInvariant()}-{_port}", accelerator.NodeId);
        await admin.CordonAcceleratorAsync(accelerator.AcceleratorId);

        first.Kill();
        await first.WaitForExitAsync();
        await Polling.Until(async () => (await admin.GetAcceleratorAsync(accelerator.AcceleratorId)).State == "lost",
            "the killed node's accelerator reads lost", Timeout, TimeSpan.FromMilliseconds(100));

        Start();
        await Polling.Until(async () => (await admin.GetAcceleratorAsync(accelerator.AcceleratorId)).State != "lost",
            "the restarted node registers", Timeout, TimeSpan.FromMilliseconds(100));

        // One node, one accelerator, still cordoned: nothing left behind reading lost.
        var after = Assert.Single(await admin.ListAcceleratorsAsync());
        Assert.Equal((accelerator.AcceleratorId, accelerator.NodeId, "cordoned"), (after.AcceleratorId, after.NodeId, after.State));
        var summary = await admin.GetClusterSummaryAsync();
        Assert.Equal((1, 1), (summary.Nodes, summary.Accelerators));
    }

    private WorkerProcess Start()
    {
        var worker = WorkerProcess.Start(null, _scheduler.Address, "instant", Model,
            [$"--Worker:Port={_port}"], null, ("L4", 1, 4));
        _workers.Add(worker);
        return worker;
    }
}
