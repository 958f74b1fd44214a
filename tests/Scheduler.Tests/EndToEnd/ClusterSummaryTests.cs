using Scheduler.Protos.V1;
using Scheduler.Tests.EndToEnd.Hostile;

namespace Scheduler.Tests.EndToEnd;

[Collection(SchedulerClusterCollection.Name)]
public sealed class ClusterSummaryTests(SchedulerCluster cluster)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task GetClusterSummary_JobHandedBackByALostNode_CountsJobsAsTheReplicasAndQueuesDo()
    {
        using var admin = cluster.Admin();
        using var client = cluster.Tenant(2);
        await using var node = await FakeWorkerNode.StartRegisteredAsync(cluster, "summary", SchedulerCluster.ScriptedModel);
        var job = await client.SubmitAsync(new SubmitJobRequest { Model = SchedulerCluster.ScriptedModel, Prompt = "handed back", MaxTokens = 2 });
        Assert.Equal(job.JobId, (await node.NextAdmit(Wait)).Sequences.Single().SequenceId);

        // The node breaks its stream: the job goes back to its queue (no other node serves the model). Its tenant still
        // counts it as started, but nothing runs it.
        node.BreakStream();
        await Polling.Until(async () => (await admin.GetAcceleratorAsync(node.AcceleratorId)).State == "lost", "the node is dropped", Wait, TimeSpan.FromMilliseconds(100));
        try
        {
            await Polling.Until(
                async () =>
                {
                    var summary = await admin.GetClusterSummaryAsync();
                    var running = (await admin.ListReplicasAsync()).Sum(r => r.RunningSequences);
                    var queued = (await admin.ListModelsAsync()).Sum(m => m.QueuedJobs);
                    return summary.RunningJobs == running && summary.QueuedJobs == queued && queued >= 1;
                },
                "the summary's running and queued jobs match the replicas' running sequences and the models' queues",
                Wait,
                TimeSpan.FromMilliseconds(100));
        }
        finally
        {
            await client.CancelAsync(job.JobId);
        }
    }
}
