using Scheduler.Abstractions.Jobs;
using Scheduler.Abstractions.Placement;
using Scheduler.Policies;
using static Scheduler.Tests.Grains.GrainTestKit;

namespace Scheduler.Tests.Grains;

[Collection(GrainClusterCollection.Name)]
public sealed class PlacementDeadlineAndShedTests(GrainClusterFixture cluster)
{
    private readonly string _model = Unique("model");
    private readonly string _tenant = Unique("tenant");

    private IPlacementGrain Placement => cluster.Client.GetGrain<IPlacementGrain>(_model);

    private string JobId(int i) => $"{_model}-j{i}";

    [Fact]
    public async Task Enqueue_JobThatCanNoLongerMakeItsDeadline_ExpiresAtDispatch_InsteadOfRunning()
    {
        var node = Unique("node");
        var link = await RegisterNode(cluster, node);
        await Placement.UpsertReplicas(link.LinkId, [Replica("r1", _model, node, maxSequences: 8, kvCapacityTokens: 100_000)]);
        var watcher = new RecordingJobSink();
        var watcherRef = cluster.Client.CreateObjectReference<IJobEventSink>(watcher);
        try
        {
            var now = DateTimeOffset.UtcNow;

            // Past its deadline; and one whose 2,000 output tokens take ~21 s even on an idle H100, due in 2 s.
            var past = Ticket(JobId(0), _tenant, _model, watchers: [watcherRef], deadline: now.AddSeconds(-1));
            var tooLong = Ticket(JobId(1), _tenant, _model, maxTokens: 2_000, watchers: [watcherRef], deadline: now.AddSeconds(2));
            var feasible = Ticket(JobId(2), _tenant, _model, deadline: now.AddMinutes(10));
            foreach (var ticket in new[] { past, tooLong, feasible })
            {
                await cluster.Journal.Add(ticket);
                await Placement.Enqueue(ticket);
            }

            await Until(() => watcher.Events.Count(e => e.Kind == JobEventKind.Expired) == 2, "both late jobs expire");
            await Settle(cluster, node);
            Assert.Equal([JobId(2)], link.AdmittedJobIds);
            Assert.All(watcher.Events, e => Assert.StartsWith("DEADLINE_EXCEEDED", e.Error, StringComparison.Ordinal));
            Assert.Equal(0, (await Placement.GetSnapshot()).QueuedJobs);
            foreach (var id in new[] { JobId(0), JobId(1) })
            {
                await Until(async () => (await cluster.Client.GetGrain<IJobGrain>(id).Get())?.Status == JobStatus.Expired, $"{id} recorded as expired");
                var job = await cluster.Client.GetGrain<IJobGrain>(id).Get();
                Assert.Null(job!.Placement);
                Assert.StartsWith("DEADLINE_EXCEEDED", job.Error, StringComparison.Ordinal);
            }
        }
        finally
        {
            cluster.Client.DeleteObjectReference<IJobEventSink>(watcherRef);
        }
    }

    [Fact]
    public async Task QueuedJob_ExpiresOnTheTimer_WhenNothingElseHappens()
    {
        // No replica: nothing will ever run an admission round for this model except the expiry timer.
        var watcher = new RecordingJobSink();
        var watcherRef = cluster.Client.CreateObjectReference<IJobEventSink>(watcher);
        try
        {
            await Placement.Enqueue(Ticket(JobId(0), _tenant, _model, watchers: [watcherRef], deadline: DateTimeOffset.UtcNow.AddMilliseconds(300)));
            await Placement.Enqueue(Ticket(JobId(1), _tenant, _model, deadline: DateTimeOffset.UtcNow.AddMinutes(10)));
            Assert.Equal(2, (await Placement.GetSnapshot()).QueuedJobs);

            await Until(() => watcher.Events.Any(e => e.Kind == JobEventKind.Expired), "the timer expires the job");

            var expired = Assert.Single(watcher.Events);
            Assert.Equal(JobId(0), expired.JobId);
            Assert.True(expired.IsTerminal);
            Assert.Equal(1, (await Placement.GetSnapshot()).QueuedJobs);
            Assert.Equal(CancelOutcome.CancelledWhileQueued, (await Placement.Cancel(JobId(1))).Outcome);
        }
        finally
        {
            cluster.Client.DeleteObjectReference<IJobEventSink>(watcherRef);
        }
    }

    [Fact]
    public async Task Enqueue_SheddableOverTheOverloadThreshold_IsShed_StandardAndCriticalAreStillQueued()
    {
        for (var i = 0; i < GrainClusterFixture.OverloadQueueLength - 1; i++)
        {
            Assert.False((await Placement.Enqueue(Ticket(JobId(i), _tenant, _model))).Shed);
        }

        // Below the threshold sheddable work is queued like any other ...
        Assert.False((await Placement.Enqueue(Ticket(JobId(10), _tenant, _model, priority: JobPriority.Sheddable))).Shed);

        // ... at it, it is refused, while standard and critical jobs are still taken.
        var shed = await Placement.Enqueue(Ticket(JobId(11), _tenant, _model, priority: JobPriority.Sheddable));
        var standard = await Placement.Enqueue(Ticket(JobId(12), _tenant, _model));
        var critical = await Placement.Enqueue(Ticket(JobId(13), _tenant, _model, priority: JobPriority.Critical));

        Assert.True(shed.Shed);
        Assert.False(standard.Shed);
        Assert.False(critical.Shed);
        Assert.Equal(0, critical.QueuePosition);
        Assert.Equal(GrainClusterFixture.OverloadQueueLength + 2, (await Placement.GetSnapshot()).QueuedJobs);
        Assert.Equal(CancelOutcome.NotFound, (await Placement.Cancel(JobId(11))).Outcome);
    }
}
