using Scheduler.Client;
using Scheduler.Protos.V1;
using Scheduler.Tests.EndToEnd;
using Scheduler.Worker.Hosting;

namespace Scheduler.Tests.Cli;

/// <summary>
/// <c>schedctl top</c> on a fleet of many replicas shows the busiest 20 and counts the rest, as it does for tenants: 50
/// nodes of 8 accelerators printed 400 replica rows a frame, which a terminal scrolled past before the next redraw.
/// A silo in this process, one node of 30 L4s; schedctl is its own process.
/// </summary>
public sealed class TopManyReplicasTests
{
    private const string Model = "llama-3.1-8b";
    private const string TenantKey = "many-replicas-tenant-key";

    [Fact]
    public async Task TopOnce_ThirtyReplicas_ShowsTheBusiestTwenty_AndCountsTheRest()
    {
        await using var scheduler = await LoopbackScheduler.StartAsync(Model, "many-replicas-tenant", TenantKey);
        var node = new WorkerNodeOptions { NodeId = "many-replicas" };
        node.Accelerators.Add(new AcceleratorOptions { Product = "L4", Count = 30 });
        await scheduler.StartNodeAsync(node);
        await scheduler.WaitForReadyReplicas(Model, count: 30);
        using var admin = new SchedulerAdminClient(scheduler.Address, LoopbackScheduler.AdminKey);
        using var client = new SchedulerClient(scheduler.Address, TenantKey);
        var job = await client.SubmitAsync(new SubmitJobRequest { Model = Model, Prompt = "keep one replica busy", MaxTokens = 4000 });
        await Polling.Until(async () => (await admin.ListReplicasAsync(Model)).Any(r => r.RunningSequences == 1),
            "the job runs on a replica", TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(100));
        var busy = Assert.Single(await admin.ListReplicasAsync(Model), r => r.RunningSequences == 1);

        var (exit, stdout, stderr) = await Schedctl.Run("--address", scheduler.Address, "--admin-key", LoopbackScheduler.AdminKey, "top", "--once");
        await client.CancelAsync(job.JobId);

        Assert.True(exit == 0, stderr);
        var rows = stdout.Split('\n').Where(line => line.StartsWith("many-replicas-l4-", StringComparison.Ordinal)).ToList();
        Assert.Equal(20, rows.Count);
        Assert.StartsWith(busy.ReplicaId + " ", rows[0], StringComparison.Ordinal);
        Assert.Contains("(+10 more replicas: 0 running, 10 idle; schedctl replicas lists them all)", stdout, StringComparison.Ordinal);
    }
}
