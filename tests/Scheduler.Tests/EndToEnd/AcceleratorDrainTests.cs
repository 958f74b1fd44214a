using Scheduler.Protos.V1;

namespace Scheduler.Tests.EndToEnd;

[Collection(SchedulerClusterCollection.Name)]
public sealed class AcceleratorDrainTests(SchedulerCluster cluster)
{
    [Fact]
    public async Task DrainAccelerator_RunningJobFinishes_NothingNewAdmitted_UncordonRestores()
    {
        using var admin = cluster.Admin();
        using var client = cluster.Tenant(1);
        const string node = "e2e-drain-node";
        // Real time, so the long job is still running when the drain begins.
        await using var worker = WorkerProcess.Start(node, cluster.Address, "1", ("L4", 1, 4));
        await cluster.WaitForNode(node);
        var accelerator = (await admin.ListAcceleratorsAsync()).Single(a => a.NodeId == node).AcceleratorId;

        // Every other accelerator cordoned: the long job can only run on the node we drain.
        var others = (await admin.ListAcceleratorsAsync()).Where(a => a.NodeId != node && a.State == "ready").Select(a => a.AcceleratorId).ToList();
        foreach (var id in others)
        {
            await admin.CordonAcceleratorAsync(id);
        }

        try
        {
            var longJob = await client.SubmitAsync(new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "drain me", MaxTokens = 150 });
            await Polling.Until(async () => (await client.GetAsync(longJob.JobId)).Status == JobStatus.Running, "the long job runs", TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(50));

            var drained = await admin.CordonAcceleratorAsync(accelerator);
            Assert.Equal("draining", drained.State);

            // A job submitted during the drain is not admitted there (nor anywhere: everything else is cordoned).
            var waiting = await client.SubmitAsync(new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "wait", MaxTokens = 4 });

            var finished = await client.AttachAsync(longJob.JobId, deadline: DateTime.UtcNow.AddSeconds(60));
            Assert.True(finished.Succeeded);
            Assert.Equal(150, finished.TokenCount);
            Assert.Equal(JobStatus.Queued, (await client.GetAsync(waiting.JobId)).Status);
            await Polling.Until(async () => (await admin.ListAcceleratorsAsync()).Single(a => a.AcceleratorId == accelerator).State == "cordoned", "drained", TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(50));

            var restored = await admin.UncordonAcceleratorAsync(accelerator);
            Assert.Equal("ready", restored.State);
            var done = await client.AttachAsync(waiting.JobId, deadline: DateTime.UtcNow.AddSeconds(30));
            Assert.True(done.Succeeded);
            Assert.Equal(accelerator, done.Placement!.AcceleratorId);
        }
        finally
        {
            foreach (var id in others)
            {
                await admin.UncordonAcceleratorAsync(id);
            }
        }
    }
}
