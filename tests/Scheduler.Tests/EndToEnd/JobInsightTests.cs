using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Scheduler.Client;
using Scheduler.Protos.V1;
using Scheduler.Tests.EndToEnd.Hostile;

namespace Scheduler.Tests.EndToEnd;

/// <summary>An SRE finds jobs (ListJobs, admin and a tenant's own) and asks why one waited and where it went
/// (ExplainJob), over real gRPC to the in-process silo with real worker processes.</summary>
[Collection(SchedulerClusterCollection.Name)]
public sealed class JobInsightTests(SchedulerCluster cluster)
{
    [Fact]
    public async Task ListJobs_FiltersByModelStatusPriorityAndTime_NewestFirst_PagesWithTokens()
    {
        using var admin = cluster.Admin();
        var (tenantId, client) = await FreshTenant(admin, "list");
        using var _ = client;
        var parked = new List<Job>();
        foreach (var priority in new[] { Priority.Standard, Priority.Critical, Priority.Standard, Priority.Critical, Priority.Standard })
        {
            parked.Add(await client.SubmitAsync(new SubmitJobRequest { Model = SchedulerCluster.ParkedModel, Prompt = "wait", MaxTokens = 4, Priority = priority }));
        }

        var completed = new List<Job>();
        for (var i = 0; i < 2; i++)
        {
            var run = await client.RunAsync(new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "hello", MaxTokens = 4 }, deadline: DateTime.UtcNow.AddSeconds(30));
            Assert.Equal(JobStatus.Completed, run.Status);
            completed.Add(await client.GetAsync(run.JobId));
        }

        try
        {
            var all = await admin.ListJobsAsync(new ListJobsRequest { TenantId = tenantId });
            Assert.Equal(7, all.Jobs.Count);
            Assert.Empty(all.NextPageToken);
            Assert.Equal(NewestFirst([.. completed, .. parked]), all.Jobs.Select(j => j.JobId));
            Assert.All(all.Jobs, j => Assert.Equal(tenantId, j.TenantId));

            var queuedParked = await admin.ListJobsAsync(new ListJobsRequest { TenantId = tenantId, Model = SchedulerCluster.ParkedModel, Statuses = { JobStatus.Queued } });
            Assert.Equal(NewestFirst(parked), queuedParked.Jobs.Select(j => j.JobId));

            var critical = await admin.ListJobsAsync(new ListJobsRequest { TenantId = tenantId, Priority = Priority.Critical });
            Assert.Equal(NewestFirst([parked[1], parked[3]]), critical.Jobs.Select(j => j.JobId));

            var done = await admin.ListJobsAsync(new ListJobsRequest { TenantId = tenantId, Statuses = { JobStatus.Completed, JobStatus.Failed } });
            Assert.Equal(NewestFirst(completed), done.Jobs.Select(j => j.JobId));
            Assert.All(done.Jobs, j => Assert.NotNull(j.Placement));

            var since = parked[2].SubmittedAt;
            var recent = await admin.ListJobsAsync(new ListJobsRequest { TenantId = tenantId, SubmittedSince = since, SubmittedUntil = parked[4].SubmittedAt });
            Assert.Equal(NewestFirst(parked[2..5]), recent.Jobs.Select(j => j.JobId));

            // Pages of two: every job once, in the same order as the whole listing.
            var paged = new List<string>();
            var token = "";
            var pages = 0;
            do
            {
                var page = await admin.ListJobsAsync(new ListJobsRequest { TenantId = tenantId, PageSize = 2, PageToken = token });
                Assert.InRange(page.Jobs.Count, 1, 2);
                paged.AddRange(page.Jobs.Select(j => j.JobId));
                token = page.NextPageToken;
                pages++;
            }
            while (token.Length > 0 && pages < 10);
            Assert.Equal(all.Jobs.Select(j => j.JobId), paged);
            Assert.Equal(4, pages);

            // The tenant's own listing is the same; another tenant's holds none of them.
            var own = await client.ListAsync(new ListJobsRequest());
            Assert.Equal(all.Jobs.Select(j => j.JobId), own.Jobs.Select(j => j.JobId));
            using var other = cluster.Tenant(0);
            var others = await other.ListAsync(new ListJobsRequest { PageSize = 500 });
            Assert.DoesNotContain(others.Jobs, j => j.TenantId == tenantId);
            var denied = await Assert.ThrowsAsync<RpcException>(() => other.ListAsync(new ListJobsRequest { TenantId = tenantId }));
            Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);
            Assert.Contains("tenant_id", denied.Status.Detail, StringComparison.Ordinal);
        }
        finally
        {
            foreach (var job in parked)
            {
                await client.CancelAsync(job.JobId);
            }
        }
    }

    // The listing's order: newest submission millisecond first; jobs of one millisecond (back-to-back submissions can
    // share one) in descending job id, the index's order within a score.
    private static IEnumerable<string> NewestFirst(IEnumerable<Job> jobs) =>
        jobs.OrderByDescending(j => j.SubmittedAt.ToDateTimeOffset().ToUnixTimeMilliseconds())
            .ThenByDescending(j => j.JobId, StringComparer.Ordinal)
            .Select(j => j.JobId);

    [Theory]
    [InlineData("page_size")]
    [InlineData("page_token")]
    [InlineData("submitted_since")]
    [InlineData("model")]
    [InlineData("statuses")]
    [InlineData("priority")]
    public async Task ListJobs_BadFilterOrToken_IsInvalidArgumentNamingTheField(string field)
    {
        using var admin = cluster.Admin();
        var now = DateTimeOffset.UtcNow;
        var request = field switch
        {
            "page_size" => new ListJobsRequest { PageSize = 501 },
            "page_token" => new ListJobsRequest { PageToken = "not-a-token!" },
            "submitted_since" => new ListJobsRequest { SubmittedSince = Timestamp.FromDateTimeOffset(now), SubmittedUntil = Timestamp.FromDateTimeOffset(now.AddMinutes(-1)) },
            "model" => new ListJobsRequest { Model = "no-such-model" },
            "statuses" => new ListJobsRequest { Statuses = { (JobStatus)99 } },
            _ => new ListJobsRequest { Priority = (Priority)42 },
        };

        var ex = await Assert.ThrowsAsync<RpcException>(() => admin.ListJobsAsync(request));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith(field + ":", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExplainJob_UnknownJob_IsNotFound_TenantKeyIsRefused()
    {
        using var admin = cluster.Admin();
        var missing = await Assert.ThrowsAsync<RpcException>(() => admin.ExplainJobAsync("no-such-job"));
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);

        using var asTenant = new SchedulerAdminClient(cluster.Channel, SchedulerCluster.Tenants[0].Key);
        var denied = await Assert.ThrowsAsync<RpcException>(() => asTenant.ExplainJobAsync("no-such-job"));
        Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);
    }

    [Fact]
    public async Task ExplainJob_PlacedNormally_ShowsTheClassesWeighed_ChosenIsTheCheapestThatMeetsTheObjective()
    {
        using var admin = cluster.Admin();
        var (_, client) = await FreshTenant(admin, "placed");
        using var __ = client;
        var run = await client.RunAsync(new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "explain me", MaxTokens = 8 }, deadline: DateTime.UtcNow.AddSeconds(30));
        Assert.Equal(JobStatus.Completed, run.Status);

        var explanation = await admin.ExplainJobAsync(run.JobId);

        Assert.Equal(JobStatus.Completed, explanation.Job.Status);
        Assert.Equal("queued", explanation.Events[0].Kind);
        var admitted = Assert.Single(explanation.Events, e => e.Kind == "admitted");
        Assert.Equal(explanation.Job.Placement.ReplicaId, admitted.Placement.ReplicaId);
        Assert.True(admitted.Candidates.Select(c => c.Product).Distinct().Count() >= 2, "the fleet's classes were not all weighed");
        var chosen = Assert.Single(admitted.Candidates, c => c.Chosen);
        Assert.Equal(explanation.Job.Placement.AcceleratorProduct, chosen.Product);
        Assert.True(chosen.MeetsObjective);
        Assert.Equal(admitted.Candidates.Where(c => c.MeetsObjective).Min(c => c.PredictedCostUsd), chosen.PredictedCostUsd);
        Assert.StartsWith("cheapest predicted cost", admitted.Detail, StringComparison.Ordinal);
        Assert.False(explanation.HasQueuePosition);
    }

    [Fact]
    public async Task ExplainJob_ExpiredInTheQueue_ShowsItWaitedForAReplicaThenExpired()
    {
        using var admin = cluster.Admin();
        var (_, client) = await FreshTenant(admin, "expired");
        using var __ = client;
        var run = await client.RunAsync(new SubmitJobRequest { Model = SchedulerCluster.ParkedModel, Prompt = "wait", MaxTokens = 4, DeadlineMs = 300 }, deadline: DateTime.UtcNow.AddSeconds(20));
        Assert.Equal(JobStatus.Expired, run.Status);

        var explanation = await admin.ExplainJobAsync(run.JobId);

        Assert.Equal(["queued", "waiting", "expired"], explanation.Events.Select(e => e.Kind));
        Assert.Equal("no_replicas", explanation.Events[1].Reason);
        Assert.True(explanation.Events[1].Count >= 1);
        Assert.Contains("deadline", explanation.Events[2].Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExplainJob_HeldBecauseNoReplicaMeetsItsObjective_SaysSo_WhileQueuedAndWithItsPosition()
    {
        using var admin = cluster.Admin();
        var (_, client) = await FreshTenant(admin, "held");
        using var __ = client;
        var node = await FakeWorkerNode.StartRegisteredAsync(cluster, "explain-held", SchedulerCluster.ScriptedModel);
        string? first = null, second = null;
        try
        {
            await cluster.WaitForNode(node.NodeId, SchedulerCluster.ScriptedModel);
            // Alone: a scripted node of an earlier test in this cluster may not have been seen leaving yet.
            await WaitFor(async () => (await admin.ListReplicasAsync(SchedulerCluster.ScriptedModel)).Where(r => r.State == "ready").Select(r => r.NodeId).SequenceEqual([node.NodeId]),
                "this test's node holding the only ready replica of the scripted model");

            // A 1 ms objective no replica can meet. The first job goes to the fastest (idle) replica, whose node never
            // reports a step: its 3,000 prompt tokens stay pending, more than one step's budget (2,048), so the next is held.
            SubmitJobRequest Impatient() => new() { Model = SchedulerCluster.ScriptedModel, PromptTokenIds = { Enumerable.Repeat(1, 3000) }, MaxTokens = 8, TtftObjectiveMs = 1 };
            first = (await client.SubmitAsync(Impatient())).JobId;
            await node.NextAdmit(TimeSpan.FromSeconds(10));
            second = (await client.SubmitAsync(Impatient())).JobId;

            var explanation = await admin.ExplainJobAsync(second);
            Assert.Equal(JobStatus.Queued, explanation.Job.Status);
            Assert.Equal(0, explanation.QueuePosition);
            Assert.Equal("queued", explanation.Events[0].Kind);
            var held = Assert.Single(explanation.Events, e => e.Kind == "waiting");
            Assert.Equal("held_no_replica_meets_objective", held.Reason);
            Assert.Contains("1 ms TTFT objective", held.Detail, StringComparison.Ordinal);

            var firstExplained = await admin.ExplainJobAsync(first);
            var admitted = Assert.Single(firstExplained.Events, e => e.Kind == "admitted");
            Assert.Equal(node.ReplicaId, admitted.Placement.ReplicaId);
            Assert.StartsWith("no replica was predicted to meet the 1 ms TTFT objective", admitted.Detail, StringComparison.Ordinal);
            Assert.False(Assert.Single(admitted.Candidates).MeetsObjective);
        }
        finally
        {
            if (second is not null)
            {
                await client.CancelAsync(second);
            }

            // The node goes: the job it held comes back to the queue, where cancelling ends it.
            await node.DisposeAsync();
            if (first is not null)
            {
                await CancelUntilEnded(client, first);
            }
        }
    }

    [Fact]
    public async Task ExplainJob_HandedBackAfterItsWorkerDied_ShowsTheHandBackAndTheSecondPlacement()
    {
        using var admin = cluster.Admin();
        var (_, client) = await FreshTenant(admin, "handback");
        using var __ = client;
        var suffix = Guid.NewGuid().ToString("N")[..6];

        // A slow real worker (speed-up 1): the job is still running when the process is killed.
        await using var doomed = cluster.StartExtraWorkerFor(SchedulerCluster.FairModel, "explain-doomed-" + suffix, "1", ("L4", 1, 4));
        await cluster.WaitForNode("explain-doomed-" + suffix, SchedulerCluster.FairModel);
        var job = await client.SubmitAsync(new SubmitJobRequest { Model = SchedulerCluster.FairModel, Prompt = "a long answer", MaxTokens = 400 });
        await WaitFor(async () => (await client.GetAsync(job.JobId)).Status == JobStatus.Running, "the job to run");
        doomed.Kill();

        await WaitFor(async () => (await admin.ExplainJobAsync(job.JobId)).Events.Any(e => e.Kind == "handed_back"), "the hand-back");
        await using var rescuer = cluster.StartExtraWorkerFor(SchedulerCluster.FairModel, "explain-rescuer-" + suffix, "20", ("L4", 1, 4));
        await WaitFor(async () => (await client.GetAsync(job.JobId)).Status == JobStatus.Completed, "the job to complete on the second worker", TimeSpan.FromSeconds(90));

        var explanation = await admin.ExplainJobAsync(job.JobId);

        var kinds = explanation.Events.Select(e => e.Kind).ToList();
        Assert.Equal("queued", kinds[0]);
        var handBack = kinds.IndexOf("handed_back");
        Assert.Equal("admitted", kinds[handBack - 1]);
        Assert.Equal("admitted", kinds[^1]);
        Assert.StartsWith("explain-doomed-", explanation.Events[handBack - 1].Placement.NodeId, StringComparison.Ordinal);
        Assert.Contains("node was lost", explanation.Events[handBack].Detail, StringComparison.Ordinal);
        Assert.StartsWith("explain-rescuer-", explanation.Events[^1].Placement.NodeId, StringComparison.Ordinal);
        Assert.Equal(JobStatus.Completed, explanation.Job.Status);
    }

    private async Task<(string TenantId, SchedulerClient Client)> FreshTenant(SchedulerAdminClient admin, string prefix)
    {
        var id = $"insight-{prefix}-{Guid.NewGuid():N}"[..24];
        await admin.PutTenantAsync(new PutTenantRequest { TenantId = id, Weight = 1, ApiKey = id + "-key" });
        return (id, cluster.ClientWithKey(id + "-key"));
    }

    private static async Task CancelUntilEnded(SchedulerClient client, string jobId)
    {
        await WaitFor(async () => (await client.CancelAsync(jobId)).Status is JobStatus.Cancelled or JobStatus.Completed or JobStatus.Failed, "the job to end");
    }

    private static async Task WaitFor(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var until = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < until, "timed out waiting for " + what);
            await Task.Delay(100);
        }
    }
}
