using Scheduler.Abstractions.Jobs;
using Scheduler.Abstractions.Placement;
using Scheduler.Grains.Jobs;
using Scheduler.Policies.Prefix;
using static Scheduler.Tests.Grains.GrainTestKit;

namespace Scheduler.Tests.Grains;

[Collection(GrainClusterCollection.Name)]
public sealed class PlacementGrainTests(GrainClusterFixture cluster)
{
    private readonly string _model = Unique("model");
    private readonly string _tenant = Unique("tenant");

    private IPlacementGrain Placement => cluster.Client.GetGrain<IPlacementGrain>(_model);

    private string JobId(int i) => $"{_model}-j{i}";

    /// <summary>A registered node serving one replica of the model.</summary>
    private async Task<(string Node, FakeNodeLink Link)> NodeWithReplica(string replicaId, int maxSequences, long kvCapacityTokens = 100_000)
    {
        var node = Unique("node");
        var link = await RegisterNode(cluster, node);
        await Placement.UpsertReplicas(link.LinkId, [Replica(replicaId, _model, node, maxSequences, kvCapacityTokens)]);
        return (node, link);
    }

    private async Task<ReplicaSnapshot> ReplicaState(string replicaId) =>
        (await Placement.GetSnapshot()).Replicas.Single(r => r.ReplicaId == replicaId);

    [Fact]
    public async Task OnProgress_WithTheEnginesEvictions_AndWithoutAsAnOlderSiloSendsIt_BothLand()
    {
        var (node, link) = await NodeWithReplica("r1", maxSequences: 2);
        var prompt = new string('q', 2 * PromptBlocks.DefaultBlockTokens * PromptBlocks.CharsPerToken);
        var ticket = Ticket(JobId(0), _tenant, _model);
        await Placement.Enqueue(ticket with { Request = ticket.Request with { Prompt = prompt, PromptTokens = 130 } });
        await Until(() => link.AdmittedJobIds.Count >= 1, "an admission");
        await Settle(cluster, node);

        // A silo of the version before cache events reports the prefill and the end without evictions.
        await Placement.OnProgress("r1", [JobId(0)], [new FinishedSequence(JobId(0), 10, FinishReason.Length)]);
        Assert.Equal((2, 0L), ((await ReplicaState("r1")).CachedPrefixBlocks, (await ReplicaState("r1")).PrefixBlocksForgotten));

        await Placement.OnProgress("r1", [], [], [PromptBlocks.FromText(prompt)!.Hashes[1]]);
        Assert.Equal((1, 1L), ((await ReplicaState("r1")).CachedPrefixBlocks, (await ReplicaState("r1")).PrefixBlocksForgotten));
    }

    [Fact]
    public async Task Placement_NeverAdmitsPastSlots_ThenAdmitsNextIntoRunningBatch()
    {
        var (node, link) = await NodeWithReplica("r1", maxSequences: 2);

        for (var i = 0; i < 4; i++)
        {
            await Placement.Enqueue(Ticket(JobId(i), _tenant, _model));
        }

        await Until(() => link.AdmittedJobIds.Count >= 2, "two admissions");
        await Settle(cluster, node);
        Assert.Equal([JobId(0), JobId(1)], link.AdmittedJobIds);
        var snapshot = await Placement.GetSnapshot();
        Assert.Equal(2, snapshot.QueuedJobs);
        Assert.Equal(2, snapshot.Replicas.Single().RunningSequences);

        // j0 finishes: j2 (next in fair order) joins the batch j1 is still running in, as one message.
        await Placement.OnProgress("r1", [JobId(0), JobId(1)], [new FinishedSequence(JobId(0), 100, FinishReason.Length)]);

        await Until(() => link.Admits.Count >= 3, "a third admission");
        await Settle(cluster, node);
        Assert.Equal(3, link.Admits.Count);
        var refill = link.Admits[^1];
        Assert.Equal("r1", refill.ReplicaId);
        Assert.Equal([JobId(2)], refill.JobIds);
        Assert.Equal(1, refill.Batch[0].Placement.RunningSequencesAtAdmission);
        var replica = await ReplicaState("r1");
        Assert.Equal(2, replica.RunningSequences);
        Assert.Equal([JobId(1), JobId(2)], replica.RunningJobIds.Order());
        Assert.Equal(3, replica.Admissions);
        Assert.Equal(2, replica.AdmissionsIntoRunningBatch);
        Assert.Equal(1, (await Placement.GetSnapshot()).QueuedJobs);
    }

    [Fact]
    public async Task Placement_NeverAdmitsPastKvCapacity_ButSmallerJobBehindFits()
    {
        var (node, link) = await NodeWithReplica("r1", maxSequences: 8, kvCapacityTokens: 500);

        // Three jobs of 200 KV tokens, then one of 100: 200 + 200 + 100 = 500 fills the cache exactly.
        for (var i = 0; i < 3; i++)
        {
            await Placement.Enqueue(Ticket(JobId(i), _tenant, _model, prompt: 100, maxTokens: 100));
        }

        await Placement.Enqueue(Ticket(JobId(3), _tenant, _model, prompt: 50, maxTokens: 50));

        await Until(() => link.AdmittedJobIds.Count >= 3, "three admissions");
        await Settle(cluster, node);
        Assert.Equal([JobId(0), JobId(1), JobId(3)], link.AdmittedJobIds);
        var replica = await ReplicaState("r1");
        Assert.Equal(0, replica.FreeKvTokens);
        Assert.Equal(3, replica.RunningSequences);
        Assert.Equal(1, (await Placement.GetSnapshot()).QueuedJobs);
    }

    [Fact]
    public async Task Placement_JobsAdmittedInOneRound_ArriveAsOneBatchPerReplica()
    {
        var node = Unique("node");
        var link = await RegisterNode(cluster, node);
        var positions = new List<int>();
        for (var i = 0; i < 5; i++)
        {
            positions.Add((await Placement.Enqueue(Ticket(JobId(i), _tenant, _model))).QueuePosition);
        }

        Assert.Equal([0, 1, 2, 3, 4], positions);
        Assert.Empty(link.Admits);

        await Placement.UpsertReplicas(link.LinkId,
        [
            Replica("ra", _model, node, maxSequences: 3, kvCapacityTokens: 100_000),
            Replica("rb", _model, node, maxSequences: 3, kvCapacityTokens: 100_000),
        ]);

        await Until(() => link.AdmittedJobIds.Count >= 5, "five admissions");
        await Settle(cluster, node);
        var admits = link.Admits;
        Assert.Equal(2, admits.Count);                                  // 5 jobs > 3 slots: both replicas used
        Assert.Equal(["ra", "rb"], admits.Select(a => a.ReplicaId).Order());
        Assert.Equal(Enumerable.Range(0, 5).Select(JobId), admits.SelectMany(a => a.JobIds).Order());
        Assert.All(admits, a => Assert.All(a.Batch, s => Assert.Equal(a.ReplicaId, s.Placement.ReplicaId)));
        Assert.All(admits, a => Assert.InRange(a.Batch.Length, 2, 3));
        Assert.Equal(0, (await Placement.GetSnapshot()).QueuedJobs);
    }

    [Fact]
    public async Task Placement_JobsAdmittedInOneRound_ToReplicasOnTwoNodes_OneBatchEach()
    {
        var nodeA = Unique("node");
        var nodeB = Unique("node");
        var linkA = await RegisterNode(cluster, nodeA);
        var linkB = await RegisterNode(cluster, nodeB);
        for (var i = 0; i < 4; i++)
        {
            await Placement.Enqueue(Ticket(JobId(i), _tenant, _model));
        }

        await Placement.UpsertReplicas(linkA.LinkId,
        [
            Replica("ra", _model, nodeA, maxSequences: 2, kvCapacityTokens: 100_000),
            Replica("rb", _model, nodeB, maxSequences: 2, kvCapacityTokens: 100_000),
        ]);

        await Until(() => linkA.AdmittedJobIds.Count + linkB.AdmittedJobIds.Count >= 4, "four admissions");
        await Settle(cluster, nodeA);
        await Settle(cluster, nodeB);
        var a = Assert.Single(linkA.Admits);
        var b = Assert.Single(linkB.Admits);
        Assert.Equal("ra", a.ReplicaId);
        Assert.Equal("rb", b.ReplicaId);
        Assert.Equal(2, a.Batch.Length);
        Assert.Equal(2, b.Batch.Length);
    }

    [Fact]
    public async Task SetSchedulable_False_StopsAdmissionsToThatReplica()
    {
        var node = Unique("node");
        var link = await RegisterNode(cluster, node);
        await Placement.UpsertReplicas(link.LinkId,
        [
            Replica("ra", _model, node, maxSequences: 4, kvCapacityTokens: 100_000),
            Replica("rb", _model, node, maxSequences: 4, kvCapacityTokens: 100_000),
        ]);
        await Placement.SetSchedulable("ra", false);

        for (var i = 0; i < 3; i++)
        {
            await Placement.Enqueue(Ticket(JobId(i), _tenant, _model));
        }

        await Until(() => link.AdmittedJobIds.Count >= 3, "three admissions");
        await Placement.SetSchedulable("rb", false);
        await Placement.Enqueue(Ticket(JobId(3), _tenant, _model));
        await Settle(cluster, node);
        Assert.All(link.Admits, a => Assert.Equal("rb", a.ReplicaId));
        Assert.Equal(3, link.AdmittedJobIds.Count);
        var snapshot = await Placement.GetSnapshot();
        Assert.Equal(1, snapshot.QueuedJobs);
        Assert.False(snapshot.Replicas.Single(r => r.ReplicaId == "ra").Schedulable);

        await Placement.SetSchedulable("ra", true);

        await Until(() => link.AdmittedJobIds.Count >= 4, "the fourth admission");
        var last = link.Admits[^1];
        Assert.Equal("ra", last.ReplicaId);
        Assert.Equal([JobId(3)], last.JobIds);
    }

    [Fact]
    public async Task Requeue_PutsRunningJobsBackAtFront_WithResumeFromToken_AndReadmitsElsewhere()
    {
        var nodeA = Unique("node");
        var nodeB = Unique("node");
        var linkA = await RegisterNode(cluster, nodeA);
        var linkB = await RegisterNode(cluster, nodeB);
        await Placement.UpsertReplicas(linkA.LinkId,
        [
            Replica("ra", _model, nodeA, maxSequences: 2, kvCapacityTokens: 100_000),
            Replica("rb", _model, nodeB, maxSequences: 2, kvCapacityTokens: 100_000),
        ]);
        await Placement.SetSchedulable("rb", false);
        for (var i = 0; i < 3; i++)
        {
            await Placement.Enqueue(Ticket(JobId(i), _tenant, _model, prompt: 100, maxTokens: 100));
        }

        await Until(() => linkA.AdmittedJobIds.Count >= 2, "j0 and j1 on ra");
        Assert.Equal(1, (await Placement.GetSnapshot()).QueuedJobs);   // j2 waits: ra is full, rb is off

        // Node A is lost: j0 had streamed 7 tokens, j1 3. Both go back ahead of j2.
        await Placement.Requeue("ra", linkA.LinkId, [new RequeuedSequence(JobId(0), 7), new RequeuedSequence(JobId(1), 3)], HandBack.NodeLost);
        var afterLoss = await Placement.GetSnapshot();
        Assert.Equal(3, afterLoss.QueuedJobs);
        Assert.False(afterLoss.Replicas.Single(r => r.ReplicaId == "ra").Schedulable);
        Assert.Equal(0, afterLoss.Replicas.Single(r => r.ReplicaId == "ra").RunningSequences);

        await Placement.SetSchedulable("rb", true);

        await Until(() => linkB.AdmittedJobIds.Count >= 2, "re-admission on rb");
        await Settle(cluster, nodeB);
        var readmitted = Assert.Single(linkB.Admits);
        Assert.Equal("rb", readmitted.ReplicaId);
        var resumeFrom = readmitted.Batch.ToDictionary(s => s.Ticket.JobId, s => s.Ticket.ResumeFromToken);
        Assert.Equal(new Dictionary<string, int> { [JobId(0)] = 7, [JobId(1)] = 3 }, resumeFrom);
        Assert.Equal(2, linkA.AdmittedJobIds.Count);                    // nothing more went to the lost replica
        var snapshot = await Placement.GetSnapshot();
        Assert.Equal(1, snapshot.QueuedJobs);
        Assert.Equal(1, snapshot.QueuedByTenant[_tenant]);
    }

    [Fact]
    public async Task Requeue_WithCapacityElsewhere_ReadmitsImmediately()
    {
        var nodeA = Unique("node");
        var nodeB = Unique("node");
        var linkA = await RegisterNode(cluster, nodeA);
        var linkB = await RegisterNode(cluster, nodeB);
        await Placement.UpsertReplicas(linkA.LinkId, [Replica("ra", _model, nodeA, maxSequences: 2, kvCapacityTokens: 100_000)]);
        await Placement.Enqueue(Ticket(JobId(0), _tenant, _model));
        await Until(() => linkA.AdmittedJobIds.Count >= 1, "j0 on ra");
        await Placement.UpsertReplicas(linkB.LinkId, [Replica("rb", _model, nodeB, maxSequences: 2, kvCapacityTokens: 100_000)]);

        await Placement.Requeue("ra", linkA.LinkId, [new RequeuedSequence(JobId(0), 12)], HandBack.NodeLost);

        await Until(() => linkB.AdmittedJobIds.Count >= 1, "j0 on rb");
        var sequence = Assert.Single(Assert.Single(linkB.Admits).Batch);
        Assert.Equal(12, sequence.Ticket.ResumeFromToken);
        Assert.Equal("rb", sequence.Placement.ReplicaId);
    }

    [Fact]
    public async Task Requeue_ChatJob_IsReadmittedWithItsMessages()
    {
        var nodeA = Unique("node");
        var nodeB = Unique("node");
        var linkA = await RegisterNode(cluster, nodeA);
        var linkB = await RegisterNode(cluster, nodeB);
        await Placement.UpsertReplicas(linkA.LinkId, [Replica("ra", _model, nodeA, maxSequences: 2, kvCapacityTokens: 100_000)]);
        JobMessage[] chat = [new("system", "be brief"), new("user", "hello")];
        var ticket = Ticket(JobId(0), _tenant, _model);
        await Placement.Enqueue(ticket with { Request = ticket.Request with { Messages = chat } });
        await Until(() => linkA.AdmittedJobIds.Count >= 1, "j0 on ra");
        await Placement.UpsertReplicas(linkB.LinkId, [Replica("rb", _model, nodeB, maxSequences: 2, kvCapacityTokens: 100_000)]);

        await Placement.Requeue("ra", linkA.LinkId, [new RequeuedSequence(JobId(0), 3)], HandBack.NodeLost);

        await Until(() => linkB.AdmittedJobIds.Count >= 1, "j0 on rb");
        var sequence = Assert.Single(Assert.Single(linkB.Admits).Batch);
        Assert.Equal(3, sequence.Ticket.ResumeFromToken);
        Assert.Equal(chat, sequence.Ticket.Request.Messages);
    }

    [Fact]
    public async Task Requeue_FromAStreamClosedByItsOwner_LeavesTheReplicaSchedulable()
    {
        // A node re-registers: its old stream closes and hands its jobs back, possibly after the new registration
        // made the replica schedulable again. The late hand-back must not switch it off.
        var (node, link) = await NodeWithReplica("ra", maxSequences: 1);
        await Placement.Enqueue(Ticket(JobId(0), _tenant, _model));
        await Until(() => link.AdmittedJobIds.Count >= 1, "j0 on ra");

        await Placement.Requeue("ra", link.LinkId, [new RequeuedSequence(JobId(0), 4)], HandBack.StreamClosed);

        await Until(() => link.AdmittedJobIds.Count >= 2, "j0 re-admitted on ra");
        Assert.True((await Placement.GetSnapshot()).Replicas.Single().Schedulable);
    }

    [Fact]
    public async Task Requeue_Rejected_HoldsTheReplicaUntilASequenceFinishesThere()
    {
        var (node, link) = await NodeWithReplica("ra", maxSequences: 2);
        await Placement.Enqueue(Ticket(JobId(0), _tenant, _model));
        await Placement.Enqueue(Ticket(JobId(1), _tenant, _model));
        await Until(() => link.AdmittedJobIds.Count >= 2, "j0 and j1 on ra");

        // The engine refuses j1: it goes back to the queue, and ra takes nothing new while j0 runs there.
        await Placement.Requeue("ra", link.LinkId, [new RequeuedSequence(JobId(1), 0)], HandBack.Rejected);
        var held = await ReplicaState("ra");
        Assert.False(held.Schedulable);
        Assert.Equal([JobId(0)], held.RunningJobIds);
        Assert.Equal(1, (await Placement.GetSnapshot()).QueuedJobs);
        await Settle(cluster, node);
        Assert.Equal(2, link.AdmittedJobIds.Count);

        // j0 finishes: there is room by any count, and j1 is admitted again.
        await Placement.OnProgress("ra", [JobId(0)], [new FinishedSequence(JobId(0), 10, FinishReason.Length)]);
        await Until(() => link.AdmittedJobIds.Count >= 3, "j1 admitted again");
        Assert.Equal(JobId(1), link.AdmittedJobIds[^1]);
        Assert.True((await ReplicaState("ra")).Schedulable);
    }

    [Fact]
    public async Task Requeue_ForAnyReason_JournalsTheCountsBeforeTheJobIsReadmitted()
    {
        var (node, link) = await NodeWithReplica("ra", maxSequences: 3);
        for (var i = 0; i < 3; i++)
        {
            await Placement.Enqueue(Ticket(JobId(i), _tenant, _model));
        }

        await Until(() => link.AdmittedJobIds.Count >= 3, "j0, j1 and j2 on ra");

        // An engine's error (a hand-back, counted against the job), a refusal for want of room, and a node lost after
        // the silo holding its stream died: each a re-queue, journaled when the call returns, before any re-dispatch.
        await Placement.Requeue("ra", link.LinkId, [new RequeuedSequence(JobId(0), 3, Error: "upstream answered 502")], HandBack.Rejected);
        await Placement.Requeue("ra", link.LinkId, [new RequeuedSequence(JobId(1), 0)], HandBack.Rejected);
        await Placement.NodeLost(node, link.LinkId);
        await Settle(cluster, node);

        var journaled = (await cluster.Journal.Load(_model)).ToDictionary(t => t.JobId);
        Assert.Equal((1, 1, 3), (journaled[JobId(0)].Requeues, journaled[JobId(0)].HandBacks, journaled[JobId(0)].ResumeFromToken));
        Assert.Equal((1, 0), (journaled[JobId(1)].Requeues, journaled[JobId(1)].HandBacks));
        Assert.Equal((1, 0), (journaled[JobId(2)].Requeues, journaled[JobId(2)].HandBacks));
        Assert.Equal("from replica ra (node " + node + "): its node was lost (its lease lapsed after the silo holding its stream failed)",
            journaled[JobId(2)].LastRequeue);
    }

    [Fact]
    public async Task OnFinishedUnrecorded_TheStreamsSiloDiesBeforeStorageAnswers_ThePlacementWritesTheEndOnceItDoes()
    {
        var (node, link) = await NodeWithReplica("ra", maxSequences: 1);
        var ticket = Ticket(JobId(0), _tenant, _model);
        await cluster.Journal.Accept(ticket);
        await Placement.Enqueue(ticket);
        await Placement.Enqueue(Ticket(JobId(1), _tenant, _model));
        await Until(() => link.AdmittedJobIds.Count >= 1, "j0 on ra");
        var outcome = new JobOutcome(JobStatus.Completed, "length", new JobUsage(100, 3, 0, 0, 0, 0), "abc", null, [1, 2, 3]);

        using (cluster.Journal.RefuseSettles(_model))
        {
            // j0 finished and storage refused its record: its node link writes it again every second, and tells the
            // placement, which frees its slot at once (j1 runs there) and keeps its end.
            await Placement.OnFinishedUnrecorded("ra", link.LinkId, [new UnrecordedFinish(new FinishedSequence(JobId(0), 3, FinishReason.Length), outcome)]);
            await Until(() => link.AdmittedJobIds.Count >= 2, "j1 in the slot j0 left");
            Assert.Equal([JobId(0), JobId(1)], link.AdmittedJobIds);

            // Then the link's silo dies, its writes with it, and the node's lease lapses. Storage still refuses.
            await Placement.NodeLost(node, link.LinkId);
            await Task.Delay(JobSettlement.RetryPeriod * 1.5);
            Assert.Null(await cluster.Journal.FindSettled(JobId(0)));
        }

        // Once storage answers, the placement's own write of the end lands: the job leaves the journal, its end recorded.
        await Until(async () => await cluster.Journal.FindSettled(JobId(0)) is not null, "j0's end recorded");
        var record = (await cluster.Journal.FindSettled(JobId(0)))!;
        Assert.Equal((JobStatus.Completed, "abc", "ra"), (record.Outcome.Status, record.Outcome.Output, record.Placement?.ReplicaId));
        Assert.DoesNotContain(JobId(0), (await cluster.Journal.Load(_model)).Select(t => t.JobId));
        Assert.Null(await Placement.Describe(JobId(0)));
    }

    [Fact]
    public async Task Requeue_Rejected_WithNothingFinishingThere_IsTriedAgainAfterTheHold()
    {
        var (node, link) = await NodeWithReplica("ra", maxSequences: 2);
        await Placement.Enqueue(Ticket(JobId(0), _tenant, _model));
        await Until(() => link.AdmittedJobIds.Count >= 1, "j0 on ra");
        var refusedAt = DateTime.UtcNow;

        // Refused with nothing else running by the placement's count: no finish will come to end the hold.
        await Placement.Requeue("ra", link.LinkId, [new RequeuedSequence(JobId(0), 0)], HandBack.Rejected);
        Assert.False((await ReplicaState("ra")).Schedulable);

        await Polling.Until(() => link.AdmittedJobIds.Count >= 2, "j0 admitted again after the hold", TimeSpan.FromSeconds(30));
        Assert.True(DateTime.UtcNow - refusedAt >= TimeSpan.FromSeconds(4.5), "admitted again before the 5 s hold passed");
        Assert.Equal([JobId(0), JobId(0)], link.AdmittedJobIds);
    }

    [Fact]
    public async Task Cancel_QueuedJob_ReturnsCancelledWhileQueued_SettlesItThenTellsItsWatchers_AndIsNeverAdmitted()
    {
        var node = Unique("node");
        var link = await RegisterNode(cluster, node);
        var watcher = new RecordingJobSink();
        var watcherRef = cluster.Client.CreateObjectReference<IJobEventSink>(watcher);
        try
        {
            await Placement.Enqueue(Ticket(JobId(0), _tenant, _model, watchers: [watcherRef]));
            await Placement.Enqueue(Ticket(JobId(1), _tenant, _model));

            // The placement settles the job it took out and then tells its watchers, leaving its caller (the job's
            // record) nobody to tell: the end lands even if the caller's silo dies with the answer.
            var result = await Placement.Cancel(JobId(0));
            Assert.Equal(CancelOutcome.CancelledWhileQueued, result.Outcome);
            Assert.Empty(result.Watchers);
            Assert.Null(result.End);
            await Until(() => watcher.Events.Any(e => e.Kind == JobEventKind.Cancelled), "the watcher is told");
            Assert.Equal(JobStatus.Cancelled, (await cluster.Journal.FindSettled(JobId(0)))!.Outcome.Status);
            Assert.Equal(CancelOutcome.NotFound, (await Placement.Cancel(JobId(0))).Outcome);
            Assert.Equal(CancelOutcome.NotFound, (await Placement.Cancel("no-such-job")).Outcome);

            await Placement.UpsertReplicas(link.LinkId, [Replica("r1", _model, node, maxSequences: 4, kvCapacityTokens: 100_000)]);
            await Until(() => link.AdmittedJobIds.Count >= 1, "j1 admitted");
            await Settle(cluster, node);
            Assert.Equal([JobId(1)], link.AdmittedJobIds);
            Assert.Equal(0, (await Placement.GetSnapshot()).QueuedJobs);
            Assert.Equal([JobEventKind.Cancelled], watcher.Events.Select(e => e.Kind));
        }
        finally
        {
            cluster.Client.DeleteObjectReference<IJobEventSink>(watcherRef);
        }
    }

    [Fact]
    public async Task Cancel_RunningJob_AsksItsNodeAndKeepsSlotUntilConfirmed()
    {
        var (node, link) = await NodeWithReplica("r1", maxSequences: 1);
        await Placement.Enqueue(Ticket(JobId(0), _tenant, _model));
        await Placement.Enqueue(Ticket(JobId(1), _tenant, _model));

        Assert.Equal(CancelOutcome.CancellationRequested, (await Placement.Cancel(JobId(0))).Outcome);

        await Until(() => link.Cancels.Count >= 1, "the node is asked to cancel");
        var (replicaId, jobIds) = Assert.Single(link.Cancels);
        Assert.Equal("r1", replicaId);
        Assert.Equal([JobId(0)], jobIds);
        Assert.Equal([JobId(0)], (await ReplicaState("r1")).RunningJobIds);

        await Placement.OnProgress("r1", [], [new FinishedSequence(JobId(0), 3, FinishReason.Cancelled)]);

        await Until(() => link.AdmittedJobIds.Count >= 2, "j1 takes the freed slot");
        Assert.Equal([JobId(1)], (await ReplicaState("r1")).RunningJobIds);
    }

    [Fact]
    public async Task Enqueue_SameJobTwice_IsQueuedOnce()
    {
        await Placement.Enqueue(Ticket(JobId(0), _tenant, _model));
        await Placement.Enqueue(Ticket(JobId(1), _tenant, _model));

        Assert.Equal(0, (await Placement.Enqueue(Ticket(JobId(0), _tenant, _model))).QueuePosition);
        Assert.Equal(2, (await Placement.GetSnapshot()).QueuedJobs);
    }

    [Fact]
    public async Task OnProgress_UnknownReplicaOrJob_IsIgnored()
    {
        var (node, link) = await NodeWithReplica("r1", maxSequences: 1);
        await Placement.Enqueue(Ticket(JobId(0), _tenant, _model));
        await Placement.Enqueue(Ticket(JobId(1), _tenant, _model));

        await Placement.OnProgress("no-such-replica", [], [new FinishedSequence(JobId(0), 100, FinishReason.Length)]);
        await Placement.OnProgress("r1", ["stranger"], [new FinishedSequence("stranger", 100, FinishReason.Length)]);

        await Settle(cluster, node);
        Assert.Equal([JobId(0)], link.AdmittedJobIds);
        Assert.Equal(1, (await Placement.GetSnapshot()).QueuedJobs);
    }
}
