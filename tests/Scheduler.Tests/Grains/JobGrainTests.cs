using Scheduler.Abstractions.Jobs;
using Scheduler.Abstractions.Placement;
using Scheduler.Abstractions.Tenants;
using Scheduler.Grains.Jobs;
using System.Diagnostics.Metrics;
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
    public async Task Finish_Repeated_AndExpire_CountEachJobOnceInTheFinishedCounter_ByStatus()
    {
        // The counter is moved where the record settles, the one place every end passes: repeated outcomes (a node link
        // retrying) and a late expiry of a job that already ended must not count it again.
        using var finished = new FinishedCounter(_tenantId);
        var done = cluster.Client.GetGrain<IJobGrain>(Unique("job"));
        await cluster.Journal.Add(Ticket(done.GetPrimaryKeyString(), _tenantId, "m"));
        await done.Finish(Completed(3));
        await done.Finish(Completed(4));
        var expired = cluster.Client.GetGrain<IJobGrain>(Unique("job"));
        await cluster.Journal.Add(Ticket(expired.GetPrimaryKeyString(), _tenantId, "m"));
        var expiry = new JobOutcome(JobStatus.Expired, JobFinishReasons.Deadline, new JobUsage(0, 0, 0, 50, 0, 0), "", "deadline", []);
        await expired.EndInQueue(expiry, [], new JobEventRecord(expired.GetPrimaryKeyString(), JobEventKind.Expired, DateTimeOffset.UtcNow), []);
        await expired.EndInQueue(expiry, [], new JobEventRecord(expired.GetPrimaryKeyString(), JobEventKind.Expired, DateTimeOffset.UtcNow), []);

        // EndInQueue is one-way: wait for the record, then repeat the outcome with calls that are answered.
        await Until(async () => (await expired.Get())!.Status == JobStatus.Expired, "the job expires");
        await expired.Finish(expiry);
        await done.Finish(expiry);

        Assert.Equal([("completed", 1L), ("expired", 1L)], finished.ByOutcome());
    }

    [Fact]
    public async Task OnHandedBack_ShowsTheLastReason_NotAnOlderOneArrivingLate()
    {
        var jobId = Unique("job");
        var job = cluster.Client.GetGrain<IJobGrain>(jobId);
        await cluster.Journal.Add(Ticket(jobId, _tenantId, "m"));

        await job.OnHandedBack(2, "upstream answered 502");
        await Until(async () => (await job.Get())!.HandBacks == 2, "the record shows the hand-back");
        await job.OnHandedBack(1, "upstream answered 500");   // one-way notices can arrive out of order
        Assert.Equal((2, "upstream answered 502"), ((await job.Get())!.HandBacks, (await job.Get())!.LastHandBackError));

        // The hand-back a job failed of may arrive after its outcome: the record shows it with it.
        var failed = new JobOutcome(JobStatus.Failed, JobFinishReasons.Error, new JobUsage(100, 0, 0, 0, 0, 1), "", "handed back 3 times", []);
        await job.Finish(failed);
        await job.OnHandedBack(3, "upstream answered 500 again");
        await Until(async () => (await job.Get())!.HandBacks == 3, "the record shows the last hand-back");

        var snapshot = await job.Get();
        Assert.Equal((JobStatus.Failed, "upstream answered 500 again", "handed back 3 times"), (snapshot!.Status, snapshot.LastHandBackError, snapshot.Error));
    }

    [Fact]
    public async Task Finish_OnMemoryStorage_RecordStaysReadableAfterDeactivation()
    {
        var tenant = await PutTenant();
        var jobId = Unique("job");
        var job = cluster.Client.GetGrain<IJobGrain>(jobId);
        var placement = new JobPlacement("r", "a", "H100", "n", 0);
        var ticket = Ticket(jobId, _tenantId, "m");
        await cluster.Journal.Add(ticket);
        await job.OnAdmitted(ticket, placement, []);
        await Until(async () => (await job.Get())!.Placement == placement, "the record takes the admission");
        await job.Finish(Completed(7));
        await Until(async () => (await tenant.Get())!.Usage.JobsCompleted == 1, "the tenant counts the job");

        // The silo's memory is the storage: nothing is written while the activation holds the record.
        Assert.False((await StoredRecord(job)).RecordExists);

        await CollectIdleActivations();

        // Written as the activation went, and read back by the next one.
        var stored = await StoredRecord(job);
        Assert.True(stored.RecordExists);
        Assert.Equal(JobStatus.Completed, Assert.IsType<JobState>(stored.State).Status);
        var snapshot = await job.Get();
        Assert.Equal((JobStatus.Completed, 7, new string('x', 7), placement),
            (snapshot!.Status, snapshot.Usage!.CompletionTokens, snapshot.Output, snapshot.Placement));

        // The reactivated record does not settle again: the tenant still counts the job once.
        await job.Finish(Completed(9));
        Assert.Equal((1L, 7L), ((await tenant.Get())!.Usage.JobsCompleted, (await tenant.Get())!.Usage.CompletionTokens));
    }

    [Fact]
    public async Task QueuedRecord_OnMemoryStorage_SurvivesDeactivation_AndItsOutcomeTheNext()
    {
        var tenant = await PutTenant();
        var jobId = Unique("job");
        var job = cluster.Client.GetGrain<IJobGrain>(jobId);
        await cluster.Journal.Add(Ticket(jobId, _tenantId, "m"));

        await CollectIdleActivations();
        Assert.Equal(JobStatus.Queued, (await job.Get())!.Status);

        // The activation that read the record back keeps what comes next, and writes it when it goes in turn.
        await job.Finish(Completed(3));
        await CollectIdleActivations();

        var snapshot = await job.Get();
        Assert.Equal((JobStatus.Completed, 3), (snapshot!.Status, snapshot.Usage!.CompletionTokens));
        await Until(async () => (await tenant.Get())!.Usage.JobsCompleted == 1, "the tenant counts the job");
    }

    [Fact]
    public async Task Submit_OnMemoryStorage_AcknowledgesWithoutActivatingTheRecord_WhichReadsTheJournalWhenAsked()
    {
        // No replica serves the model: the job stays queued, so nothing but the lookups below can activate its record.
        var tenant = await PutTenant();
        var model = Unique("model");

        // Active before the job: a placement's activation reads the record of every job in its model's journal.
        await cluster.Client.GetGrain<IPlacementGrain>(model).GetSnapshot();
        var jobId = Unique("job");
        var result = await tenant.Submit(jobId, Request(model, prompt: 40, maxTokens: 60), []);
        Assert.Equal(SubmitRejection.None, result.Rejection);

        // The journal entry is the record until the record is asked for: no activation on the submission's path.
        Assert.DoesNotContain(await JobRecordActivations(), id => id == jobId);
        Assert.NotNull(await cluster.Journal.Find(jobId));

        var snapshot = await cluster.Client.GetGrain<IJobGrain>(jobId).Get();
        Assert.Equal((JobStatus.Queued, _tenantId, model, 40, 60),
            (snapshot!.Status, snapshot.TenantId, snapshot.Model, snapshot.PromptTokens, snapshot.MaxTokens));
        Assert.Contains(await JobRecordActivations(), id => id == jobId);

        // Cancelled in its queue: the record settles from the ticket it took, and the job leaves the journal.
        var cancelled = await cluster.Client.GetGrain<IJobGrain>(jobId).Cancel();
        Assert.Equal(JobStatus.Cancelled, cancelled!.Status);
        Assert.Null(await cluster.Journal.Find(jobId));
        await Until(async () => (await tenant.Get())!.Usage.JobsCancelled == 1, "the tenant counts the cancelled job");
    }

    [Fact]
    public async Task Finish_OnARecordActivatedBeforeItsJobWasJournaled_SettlesFromTheJournal()
    {
        // A lookup may activate the record before the tenant journals the job (a resubmission following it): the
        // activation then finds no ticket, and must take it from the journal when the job's outcome comes.
        var jobId = Unique("job");
        var job = cluster.Client.GetGrain<IJobGrain>(jobId);
        Assert.Null(await job.Explain());
        Assert.Contains(await JobRecordActivations(), id => id == jobId);

        var ticket = Ticket(jobId, _tenantId, Unique("model"));
        await cluster.Journal.Add(ticket);
        await job.Finish(Completed(5));

        var snapshot = await job.Get();
        Assert.Equal((JobStatus.Completed, 5, _tenantId), (snapshot!.Status, snapshot.Usage!.CompletionTokens, snapshot.TenantId));

        // Settled: the job left its model's journal.
        Assert.Null(await cluster.Journal.Find(jobId));
        Assert.DoesNotContain(await cluster.Journal.Load(ticket.Request.Model), t => t.JobId == jobId);
    }

    [Fact]
    public async Task OnAdmitted_BringsTheTicket_SoTheRecordItActivatesNeedsNoJournalRead()
    {
        // The admission notice usually activates the record: it carries the ticket, so the record has it without asking
        // the journal (a Redis read in Redis mode). This ticket is in no journal: only the notice can have brought it.
        var jobId = Unique("job");
        var job = cluster.Client.GetGrain<IJobGrain>(jobId);
        var placement = new JobPlacement("r", "a", "H100", "n", 0);
        await job.OnAdmitted(Ticket(jobId, _tenantId, "m", prompt: 33), placement, []);

        await Until(async () => await job.Get() is { Status: JobStatus.Running }, "the record shows the job running");
        var snapshot = await job.Get();
        Assert.Equal((_tenantId, 33, placement), (snapshot!.TenantId, snapshot.PromptTokens, snapshot.Placement));
        Assert.Null(await cluster.Journal.Find(jobId));
    }

    [Fact]
    public async Task RunningJobsRecord_IsNotCollectedWhileItRuns_ButIsOnceItSettled()
    {
        // A job may run longer than a record's idle age between its admission and its outcome; in Redis mode the
        // admission's placement is written only with the outcome, so the record must not go in between.
        await PutTenant();
        var jobId = Unique("job");
        var job = cluster.Client.GetGrain<IJobGrain>(jobId);
        var ticket = Ticket(jobId, _tenantId, "m");
        await cluster.Journal.Add(ticket);
        await job.OnAdmitted(ticket, new JobPlacement("r", "a", "H100", "n", 0), []);
        await Until(async () => (await job.Get())!.Status == JobStatus.Running, "the record takes the admission");

        await CollectIdleActivations();
        Assert.Contains(await JobRecordActivations(), id => id == jobId);
        Assert.False((await StoredRecord(job)).RecordExists);

        await job.Finish(Completed(2));
        await CollectIdleActivations();
        Assert.DoesNotContain(await JobRecordActivations(), id => id == jobId);
        Assert.True((await StoredRecord(job)).RecordExists);
    }

    [Fact]
    public void JobGrain_IsCollectedMinutesAfterItsLastCall_NotAfterOrleansDefaultQuarterHour()
    {
        // Every job has a record, called around its run and rarely after: at Orleans' default age (15 minutes) a silo
        // kept a quarter hour of jobs activated, prompts and outputs included (docs/benchmarks.md, step 10).
        var limit = typeof(JobGrain).GetCustomAttribute<CollectionAgeLimitAttribute>();

        Assert.NotNull(limit);
        Assert.False(limit.AlwaysActive);
        Assert.Equal(TimeSpan.FromMinutes(JobGrain.IdleMinutes), limit.AgeLimit);
        Assert.InRange(limit.AgeLimit, CollectionAgeLimitAttribute.MinAgeLimit, TimeSpan.FromMinutes(5));
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

    private async Task<GrainState<JobState>> StoredRecord(IJobGrain job)
    {
        var stored = new GrainState<JobState>();
        await cluster.Storage.ReadStateAsync("job", job.GetGrainId(), stored);
        return stored;
    }

    [Fact]
    public async Task OutputFrom_TokenOffset_ReturnsTheRemainingText()
    {
        var jobId = Unique("job");
        var job = cluster.Client.GetGrain<IJobGrain>(jobId);
        await cluster.Journal.Add(Ticket(jobId, _tenantId, "m"));
        var outcome = new JobOutcome(JobStatus.Completed, "length", new JobUsage(1, 3, 0, 0, 0, 0), " a bb ccc", null, [2, 5, 9]);
        await job.Finish(outcome);

        var snapshot = await job.Get();
        Assert.Equal(" a bb ccc", snapshot!.OutputFrom(0));
        Assert.Equal(" bb ccc", snapshot.OutputFrom(1));
        Assert.Equal(" ccc", snapshot.OutputFrom(2));
        Assert.Equal("", snapshot.OutputFrom(3));
    }
}

/// <summary>Listens to the scheduler's jobs-finished counter (every silo in this process) for one tenant's jobs.</summary>
internal sealed class FinishedCounter : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly Dictionary<string, long> _byOutcome = [];

    public FinishedCounter(string tenant)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "Scheduler" && instrument.Name == "scheduler.jobs.finished")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            string? outcome = null;
            var ours = false;
            foreach (var tag in tags)
            {
                ours |= tag.Key == "scheduler.tenant" && (string?)tag.Value == tenant;
                outcome = tag.Key == "scheduler.job.outcome" ? (string?)tag.Value : outcome;
            }

            if (ours)
            {
                lock (_byOutcome)
                {
                    _byOutcome[outcome!] = _byOutcome.GetValueOrDefault(outcome!) + value;
                }
            }
        });
        _listener.Start();
    }

    public (string Outcome, long Count)[] ByOutcome()
    {
        lock (_byOutcome)
        {
            return [.. _byOutcome.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => (p.Key, p.Value))];
        }
    }

    public void Dispose() => _listener.Dispose();
}
