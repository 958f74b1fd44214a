using Scheduler.Protos.V1;
using Scheduler.Tests.EndToEnd.Hostile;

namespace Scheduler.Tests.EndToEnd;

[Collection(SchedulerClusterCollection.Name)]
public sealed class CancellationAndFailureTests(SchedulerCluster cluster)
{
    [Fact]
    public async Task CancelJob_Running_FreesItsSlotForTheNextJob()
    {
        using var admin = cluster.Admin();
        using var client = cluster.Tenant(0);

        // A dedicated one-slot node, and every other replica cordoned, so the next job can only run in the freed slot.
        await using var node = cluster.StartExtraWorker("e2e-cancel-node", ("L4", 1, 1));
        await cluster.WaitForNode("e2e-cancel-node");
        var accelerators = await admin.ListAcceleratorsAsync();
        var others = accelerators.Where(a => a.NodeId != "e2e-cancel-node").Select(a => a.AcceleratorId).ToList();
        foreach (var id in others)
        {
            await admin.CordonAcceleratorAsync(id);
        }

        try
        {
            var longJob = await client.SubmitAsync(new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "long", MaxTokens = SchedulerCluster.MaxOutputTokens });
            await WaitStatus(client, longJob.JobId, JobStatus.Running);
            var next = await client.SubmitAsync(new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "next", MaxTokens = 5 });
            Assert.Equal(JobStatus.Queued, (await client.GetAsync(next.JobId)).Status);

            await client.CancelAsync(longJob.JobId);
            var cancelled = await WaitStatus(client, longJob.JobId, JobStatus.Cancelled);
            Assert.True(cancelled.Usage.CompletionTokens < SchedulerCluster.MaxOutputTokens);

            var done = await client.AttachAsync(next.JobId, deadline: DateTime.UtcNow.AddSeconds(30));
            Assert.True(done.Succeeded);
            Assert.Equal(5, done.TokenCount);
            Assert.StartsWith("e2e-cancel-node", done.Placement!.AcceleratorId, StringComparison.Ordinal);
        }
        finally
        {
            foreach (var id in others)
            {
                await admin.UncordonAcceleratorAsync(id);
            }
        }
    }

    [Fact]
    public async Task CancelJob_Running_AnswersCancelling_UntilTheEngineConfirms_ThenTheJobIsCancelled()
    {
        var wait = TimeSpan.FromSeconds(20);
        await using var node = await FakeWorkerNode.StartRegisteredAsync(cluster, "cancel-confirm", SchedulerCluster.ScriptedModel);
        using var client = cluster.Tenant(0);
        var job = await client.SubmitAsync(new SubmitJobRequest { Model = SchedulerCluster.ScriptedModel, Prompt = "stop me", MaxTokens = 8 });
        Assert.Equal(job.JobId, (await node.NextAdmit(wait)).Sequences.Single().SequenceId);

        // The reply says what was done: the engine was told to stop, and the job is not cancelled until it confirms.
        Assert.Equal(JobStatus.Cancelling, (await client.CancelAsync(job.JobId)).Status);
        Assert.Equal(JobStatus.Cancelling, (await client.GetAsync(job.JobId)).Status);
        Assert.Equal([job.JobId], (await node.NextCommand(wait)).Cancel.SequenceIds);

        node.Send(new StepReport
        {
            ReplicaId = node.ReplicaId,
            StepMs = 10,
            Finished = { new SequenceFinished { SequenceId = job.JobId, Reason = FinishReason.Cancelled, CompletionTokens = 0 } },
        });
        await Polling.Until(async () => (await client.GetAsync(job.JobId)).Status == JobStatus.Cancelled, "the job ends cancelled", wait);
        Assert.Equal(JobStatus.Cancelled, (await client.CancelAsync(job.JobId)).Status);
    }

    [Fact]
    public async Task CancelJob_Queued_UsageHasTheSchedulersPromptCount_AndItsWaitAsTotal()
    {
        using var client = cluster.Tenant(0);

        // The parked model has no replica: the job waits until it is cancelled, and never runs.
        var job = await client.SubmitAsync(new SubmitJobRequest { Model = SchedulerCluster.ParkedModel, Prompt = "never run", MaxTokens = 4 });
        await Task.Delay(100);
        var reply = await client.CancelAsync(job.JobId);
        Assert.Equal(JobStatus.Cancelled, reply.Status);

        // inference.proto's Usage: prompt_tokens is the scheduler's count for a job that ended without running, and
        // total_ms runs from submission to the end (both read 0 before, and the source UNSPECIFIED).
        foreach (var usage in new[] { reply.Usage, (await client.GetAsync(job.JobId)).Usage })
        {
            Assert.Equal(job.PromptTokens, usage.PromptTokens);
            Assert.Equal(PromptTokensSource.SchedulerEstimate, usage.PromptTokensSource);
            Assert.Equal(0, usage.CompletionTokens);
            Assert.InRange(usage.TotalMs, 100, 60_000);
            Assert.Equal(usage.QueueMs, usage.TotalMs);
        }
    }

    [Fact]
    public async Task WorkerNodeKilled_SiloKeepsServing_AndItsAcceleratorsAreLost()
    {
        using var admin = cluster.Admin();
        using var client = cluster.Tenant(2);
        var node = cluster.StartExtraWorker("e2e-doomed-node", ("H100", 1, null));
        try
        {
            await cluster.WaitForNode("e2e-doomed-node");
            node.Kill();

            // The broken stream or the lapsed lease marks its accelerator lost; the rest keep serving.
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while ((await admin.ListAcceleratorsAsync()).Single(a => a.NodeId == "e2e-doomed-node").State != "lost")
            {
                Assert.True(DateTime.UtcNow < deadline, "the killed node's accelerator was never marked lost");
                await Task.Delay(200);
            }

            var result = await client.RunAsync(new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "still there?", MaxTokens = 6 });
            Assert.True(result.Succeeded);
            Assert.DoesNotContain("e2e-doomed-node", result.Placement!.NodeId, StringComparison.Ordinal);
        }
        finally
        {
            await node.DisposeAsync();
        }
    }

    private static async Task<Job> WaitStatus(Scheduler.Client.SchedulerClient client, string jobId, JobStatus status)
    {
        for (var i = 0; i < 200; i++)
        {
            var job = await client.GetAsync(jobId);
            if (job.Status == status)
            {
                return job;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"job {jobId} never reached {status}");
    }
}
