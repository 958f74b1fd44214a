using Scheduler.Abstractions.Jobs;
using Scheduler.Abstractions.Placement;
using Scheduler.Abstractions.Tenants;
using Scheduler.Grains.Jobs;
using Scheduler.Silo.Telemetry;
using System.Reflection;
using static Scheduler.Tests.Grains.GrainTestKit;

namespace Scheduler.Tests.Grains;

[Collection(GrainClusterCollection.Name)]
public sealed class JobGrainTests(GrainClusterFixture cluster)
{
    private readonly string _tenantId = Unique("tenant");

    private static JobOutcome Completed(int tokens) =>
        new(JobStatus.Completed, "length", new JobUsage(100, tokens, 0.5, 1, 2, 3), new string('x', tokens), null, [.. Enumerable.Range(1, tokens)]);

    [Fact]
    public async Task Settle_Repeated_OrAfterAnotherEnd_KeepsTheFirstRecord_AndCountsTheJobOnce()
    {
        // Every end passes through the settlement, once per job: a repeated end (a retry) or a second one (a
        // cancellation racing the last token, an expiry) changes neither the record nor the counts.
        var tenant = await PutTenant();
        using var finished = new TenantCounter(SemanticConventions.JobsFinished, _tenantId, SemanticConventions.Outcome);
        var ticket = Ticket(Unique("job"), _tenantId, Unique("model"));
        await cluster.Journal.Add(ticket);
        var first = SettledJob.Of(ticket, null, Completed(3), []);

        // The record is the end, stamped with the time it settled (its retention counts from then).
        var before = DateTimeOffset.UtcNow;
        var record = await cluster.Settlement.Settle(first);
        Assert.Equal(first with { SettledAt = record!.SettledAt }, record);
        Assert.InRange(record.SettledAt, before, DateTimeOffset.UtcNow);
        Assert.Same(record, await cluster.Settlement.Settle(SettledJob.Of(ticket, null, Completed(4), [])));
        var expiry = new JobOutcome(JobStatus.Expired, JobFinishReasons.Deadline, new JobUsage(0, 0, 0, 50, 0, 0), "", "deadline", []);
        Assert.Same(record, await cluster.Settlement.Settle(SettledJob.Of(ticket, null, expiry, [])));

        var snapshot = await cluster.Client.GetGrain<IJobGrain>(ticket.JobId).Get();
        Assert.Equal((JobStatus.Completed, 3), (snapshot!.Status, snapshot.Usage!.CompletionTokens));
        Assert.Equal([("completed", 1L)], finished.ByTag());
        Assert.Equal((1L, 0L, 3L), ((await tenant.Get())!.Usage.JobsCompleted, (await tenant.Get())!.Usage.JobsExpired, (await tenant.Get())!.Usage.CompletionTokens));

        // Settled: the job left its model's journal, and a late write (a hand-back's, a watcher's) does not bring it back.
        Assert.Null(await cluster.Journal.Find(ticket.JobId));
        await cluster.Journal.Add(ticket);
        Assert.Null(await cluster.Journal.Find(ticket.JobId));
        Assert.DoesNotContain(await cluster.Journal.Load(ticket.Request.Model), t => t.JobId == ticket.JobId);
    }

    [Fact]
    public async Task Submit_AcknowledgesWithoutActivatingTheRecord_WhichReadsTheJournalWhenAsked_AndSettlesACancellationInTheQueue()
    {
        // No replica serves the model: the job stays queued, so nothing but the lookups below can activate its record.
        var tenant = await PutTenant();
        var model = Unique("model");
        var jobId = Unique("job");
        var result = await tenant.Submit(jobId, Request(model, prompt: 40, maxTokens: 60), []);
        Assert.Equal(SubmitRejection.None, result.Rejection);

        // The journal entry is the record until the job settles: no activation on the submission's path.
        Assert.DoesNotContain(await JobRecordActivations(), id => id == jobId);
        Assert.NotNull(await cluster.Journal.Find(jobId));

        var snapshot = await cluster.Client.GetGrain<IJobGrain>(jobId).Get();
        Assert.Equal((JobStatus.Queued, _tenantId, model, 40, 60, (JobPlacement?)null),
            (snapshot!.Status, snapshot.TenantId, snapshot.Model, snapshot.PromptTokens, snapshot.MaxTokens, snapshot.Placement));

        // Cancelled in its queue: the record settles it, and the job leaves the journal.
        var cancelled = await cluster.Client.GetGrain<IJobGrain>(jobId).Cancel();
        Assert.Equal(JobStatus.Cancelled, cancelled!.Status);
        Assert.Null(await cluster.Journal.Find(jobId));
        Assert.Equal(JobStatus.Cancelled, (await cluster.Journal.FindSettled(jobId))!.Outcome.Status);
        await Until(async () => (await tenant.Get())!.Usage.JobsCancelled == 1, "the tenant counts the cancelled job");
    }

    [Fact]
    public async Task RunningJob_ShowsWhereItsPlacementAdmittedIt_WithoutItsRecordBeingTold_ThenItsSettledEnd()
    {
        var tenant = await PutTenant();
        var model = Unique("model");
        var nodeId = Unique("node");
        var link = await RegisterNode(cluster, nodeId, Replica(Unique("r"), model, nodeId, maxSequences: 4, kvCapacityTokens: 100_000));
        var jobId = Unique("job");
        await tenant.Submit(jobId, Request(model, prompt: 40, maxTokens: 60), []);
        await Until(() => link.AdmittedJobIds.Contains(jobId), "the job is admitted");

        // Admitted, and still no record: nobody told it.
        Assert.DoesNotContain(await JobRecordActivations(), id => id == jobId);
        var admitted = link.Admits.SelectMany(a => a.Batch).Single(s => s.Ticket.JobId == jobId);
        var job = cluster.Client.GetGrain<IJobGrain>(jobId);
        var running = await job.Get();
        Assert.Equal((JobStatus.Running, admitted.Placement), (running!.Status, running.Placement));
        Assert.Contains(admitted.Trace!, e => e.Kind == JobTraceKind.Admitted);

        // Asked while it runs, it explains the placement's trace as it stands.
        var explained = await job.Explain();
        Assert.Equal(JobStatus.Running, explained!.Job.Status);
        Assert.Contains(explained.Events, e => e.Kind == JobTraceKind.Admitted);

        // Its node link settles it with the admission it holds: the activated record sees the end (it keeps nothing of
        // an unfinished job), with the trace the admission carried.
        await cluster.Settlement.Settle(SettledJob.Of(admitted.Ticket, admitted.Placement, Completed(6), admitted.Trace));
        var ended = await job.Get();
        Assert.Equal((JobStatus.Completed, 6, admitted.Placement), (ended!.Status, ended.Usage!.CompletionTokens, ended.Placement));
        Assert.Equal(admitted.Trace!.Select(e => (e.Kind, e.Detail)), (await job.Explain())!.Events.Select(e => (e.Kind, e.Detail)));
        await Until(async () => (await tenant.Get())!.Usage.JobsCompleted == 1, "the tenant counts the job");
    }

    [Fact]
    public async Task SettledRecord_StaysReadableAfterItsActivationWasCollected()
    {
        var ticket = Ticket(Unique("job"), _tenantId, Unique("model"));
        var placement = new JobPlacement("r", "a", "H100", "n", 0);
        await cluster.Journal.Add(ticket);
        await cluster.Settlement.Settle(SettledJob.Of(ticket, placement, Completed(7), []));
        var job = cluster.Client.GetGrain<IJobGrain>(ticket.JobId);
        Assert.Equal(JobStatus.Completed, (await job.Get())!.Status);

        await CollectIdleActivations();
        Assert.DoesNotContain(await JobRecordActivations(), id => id == ticket.JobId);

        var snapshot = await job.Get();
        Assert.Equal((JobStatus.Completed, 7, new string('x', 7), placement),
            (snapshot!.Status, snapshot.Usage!.CompletionTokens, snapshot.Output, snapshot.Placement));
    }

    [Fact]
    public async Task UnknownJob_IsNull_UntilItIsJournaled()
    {
        // A lookup may activate the record before the tenant journals the job (a resubmission following it): the
        // activation keeps nothing of a miss.
        var jobId = Unique("job");
        var job = cluster.Client.GetGrain<IJobGrain>(jobId);
        Assert.Null(await job.Explain());
        Assert.Null(await job.Get());

        await cluster.Journal.Add(Ticket(jobId, _tenantId, Unique("model")));
        Assert.Equal(JobStatus.Queued, (await job.Get())!.Status);
    }

    [Fact]
    public void JobGrain_IsCollectedMinutesAfterItsLastCall_NotAfterOrleansDefaultQuarterHour()
    {
        // Records are asked for around their jobs' runs and rarely after: at Orleans' default age (15 minutes) a silo
        // would keep a quarter hour of the jobs anyone looked at activated (docs/benchmarks.md, step 10).
        var limit = typeof(JobGrain).GetCustomAttribute<CollectionAgeLimitAttribute>();

        Assert.NotNull(limit);
        Assert.False(limit.AlwaysActive);
        Assert.Equal(TimeSpan.FromMinutes(JobGrain.IdleMinutes), limit.AgeLimit);
        Assert.InRange(limit.AgeLimit, CollectionAgeLimitAttribute.MinAgeLimit, TimeSpan.FromMinutes(5));
    }

    [Fact]
    public async Task Cancel_InTheQueue_TellsTheWatchersOnlyOnceTheRecordSettled()
    {
        // A client that saw its job end and asks for it finds it ended: the end goes out after the record holds it.
        var tenant = await PutTenant();
        var jobId = Unique("job");
        var job = cluster.Client.GetGrain<IJobGrain>(jobId);
        var watcher = new RecordingJobSink();
        await tenant.Submit(jobId, Request(Unique("model")), [cluster.Client.CreateObjectReference<IJobEventSink>(watcher)]);

        Task<JobSnapshot?> cancelling;
        using (cluster.Journal.HoldSettles())
        {
            cancelling = job.Cancel();

            // Out of its queue, but not settled yet: nobody is told, and the job is not shown ended.
            await Task.Delay(300);
            Assert.Empty(watcher.Events);
            Assert.False((await job.Get())!.IsTerminal);
        }

        Assert.Equal(JobStatus.Cancelled, (await cancelling)!.Status);
        await Until(() => watcher.Events.Any(e => e.Kind == JobEventKind.Cancelled), "the watcher is told once the record settled");
        Assert.Equal(JobStatus.Cancelled, (await job.Get())!.Status);
    }

    [Fact]
    public async Task Cancel_ThePlacementTookTheJobOutOfItsQueue_SettlesItWithoutTheRecord()
    {
        // The record asks the placement to take the job out of its queue, then settles it; its silo dying in between
        // (an outside probe: SIGKILL during a cancellation storm) is a placement's answer nobody acts on.
        var tenant = await PutTenant();
        var model = Unique("model");
        var jobId = Unique("job");
        var watcher = new RecordingJobSink();
        await tenant.Submit(jobId, Request(model), [cluster.Client.CreateObjectReference<IJobEventSink>(watcher)]);

        var taken = await cluster.Client.GetGrain<IPlacementGrain>(model).Cancel(jobId);

        Assert.Equal(CancelOutcome.CancelledWhileQueued, taken.Outcome);
        await Until(async () => await cluster.Journal.FindSettled(jobId) is not null, "the job's record settles");
        Assert.Equal(JobStatus.Cancelled, (await cluster.Journal.FindSettled(jobId))!.Outcome.Status);
        Assert.Null(await cluster.Journal.Find(jobId));
        await Until(() => watcher.Events.Any(e => e.Kind == JobEventKind.Cancelled), "the watcher is told");
        await Until(async () => (await tenant.Get())!.Usage.JobsCancelled == 1, "the tenant counts the cancelled job");
        Assert.Equal(0, (await tenant.Get())!.QueuedJobs);
        Assert.Equal(JobStatus.Cancelled, (await cluster.Client.GetGrain<IJobGrain>(jobId).Cancel())!.Status);
    }

    [Fact]
    public async Task Cancel_JobReachingItsPlacementAfterTheRecordAsked_IsTakenOutOfItsQueue_NotAnsweredQueued()
    {
        // Journaled, but not held by its placement when the record asks (its enqueue on its way: a submission's, or a
        // placement rebuilt after a failover). Answering QUEUED did nothing, and the job then queued and ran.
        await PutTenant();
        var model = Unique("model");
        var ticket = Ticket(Unique("job"), _tenantId, model);
        var placement = cluster.Client.GetGrain<IPlacementGrain>(model);
        await placement.GetSnapshot(); // active before the job is journaled: a placement loads its journal when it activates
        await cluster.Journal.Add(ticket);

        var looked = cluster.Journal.NextSettledLookup(ticket.JobId);
        var cancelling = cluster.Client.GetGrain<IJobGrain>(ticket.JobId).Cancel();
        await looked.WaitAsync(TimeSpan.FromSeconds(30));
        await placement.Enqueue(ticket);

        Assert.Equal(JobStatus.Cancelled, (await cancelling)!.Status);
        Assert.Equal(0, (await placement.GetSnapshot()).QueuedJobs);
        Assert.Equal(CancelOutcome.NotFound, (await placement.Cancel(ticket.JobId)).Outcome);
        Assert.Equal(JobStatus.Cancelled, (await cluster.Journal.FindSettled(ticket.JobId))!.Outcome.Status);
    }

    [Fact]
    public async Task Cancel_JobWhoseEndIsBeingWritten_AnswersThatEnd_NotQueued()
    {
        // A node link tells the placement a job finished before its record lands: a cancel in between finds the job
        // journaled and not held.
        await PutTenant();
        var ticket = Ticket(Unique("job"), _tenantId, Unique("model"));
        await cluster.Client.GetGrain<IPlacementGrain>(ticket.Request.Model).GetSnapshot(); // active before the job is journaled
        await cluster.Journal.Add(ticket);

        var looked = cluster.Journal.NextSettledLookup(ticket.JobId);
        var cancelling = cluster.Client.GetGrain<IJobGrain>(ticket.JobId).Cancel();
        await looked.WaitAsync(TimeSpan.FromSeconds(30));
        await cluster.Settlement.Settle(SettledJob.Of(ticket, null, Completed(5), []));

        var answer = await cancelling;
        Assert.Equal((JobStatus.Completed, 5), (answer!.Status, answer.Usage!.CompletionTokens));
    }

    [Fact]
    public async Task Cancel_JournaledJobNoPlacementHolds_SettlesItCancelled_SoNoRebuiltPlacementQueuesIt()
    {
        // Journaled and held by no placement for good (a job stranded by a silo failure): only a placement rebuilt from
        // the journal would queue it again, and run it.
        await PutTenant();
        var model = Unique("model");
        var watcher = new RecordingJobSink();
        var ticket = Ticket(Unique("job"), _tenantId, model, watchers: [cluster.Client.CreateObjectReference<IJobEventSink>(watcher)]);
        await cluster.Client.GetGrain<IPlacementGrain>(model).GetSnapshot(); // active before the job is journaled
        await cluster.Journal.Add(ticket);

        var answer = await cluster.Client.GetGrain<IJobGrain>(ticket.JobId).Cancel();

        Assert.Equal(JobStatus.Cancelled, answer!.Status);
        Assert.Null(await cluster.Journal.Find(ticket.JobId));
        Assert.DoesNotContain(await cluster.Journal.Load(model), t => t.JobId == ticket.JobId);
        Assert.Equal(JobStatus.Cancelled, (await cluster.Journal.FindSettled(ticket.JobId))!.Outcome.Status);
        await Until(() => watcher.Events.Any(e => e.Kind == JobEventKind.Cancelled), "the watcher is told");
    }

    private async Task<string[]> JobRecordActivations()
    {
        var stats = await cluster.Client.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics();
        return [.. stats.Where(s => s.GrainType.Contains(nameof(JobGrain), StringComparison.Ordinal)).Select(s => s.GrainId.Key.ToString()!)];
    }

    /// <summary>The test's tenant, weight 1 with the default quotas.</summary>
    private async Task<ITenantGrain> PutTenant()
    {
        var tenant = cluster.Client.GetGrain<ITenantGrain>(_tenantId);
        await tenant.Put(new TenantSettings(1, TenantQuotas.Default, ApiKey: null));
        return tenant;
    }

    /// <summary>Deactivates every idle activation of the test silo, as its collector does with those idle past their
    /// age (<see cref="JobGrain.IdleMinutes"/> for records); returns once they are gone.</summary>
    private Task CollectIdleActivations() => cluster.Client.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);

    [Fact]
    public async Task OutputFrom_TokenOffset_ReturnsTheRemainingText()
    {
        var ticket = Ticket(Unique("job"), _tenantId, "m");
        var job = cluster.Client.GetGrain<IJobGrain>(ticket.JobId);
        await cluster.Journal.Add(ticket);
        var outcome = new JobOutcome(JobStatus.Completed, "length", new JobUsage(1, 3, 0, 0, 0, 0), " a bb ccc", null, [2, 5, 9]);
        await cluster.Settlement.Settle(SettledJob.Of(ticket, null, outcome, []));

        var snapshot = await job.Get();
        Assert.Equal(" a bb ccc", snapshot!.OutputFrom(0));
        Assert.Equal(" bb ccc", snapshot.OutputFrom(1));
        Assert.Equal(" ccc", snapshot.OutputFrom(2));
        Assert.Equal("", snapshot.OutputFrom(3));
    }
}
