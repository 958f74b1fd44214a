using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Jobs;
using Scheduler.Abstractions.Placement;
using Scheduler.Grains;
using Scheduler.Grains.Jobs;
using Scheduler.Grains.Placement;
using Scheduler.Policies;
using Scheduler.Policies.Dispatch;
using Scheduler.Policies.Placement;
using Scheduler.Policies.Profiles;
using Scheduler.Policies.Prefix;
using static Scheduler.Tests.Grains.GrainTestKit;

namespace Scheduler.Tests.Grains.Placement;

/// <summary>The placement core driven without a cluster: what it decides, on a fake clock.</summary>
public sealed class ModelPlacementTests
{
    private const string Model = "m";
    private static readonly TimeSpan s_hold = new PlacementOptions().RejectionHold;
    private static readonly int s_maxHandBacks = new PlacementOptions().MaxHandBacks;

    private readonly FakeTimeProvider _time = new();
    private readonly PlacementState _persisted = new();
    private readonly ModelPlacement _placement;

    public ModelPlacementTests() => _placement = new ModelPlacement(Model, _persisted, new PlacementOptions(), _time, NullLogger.Instance);

    private JobTicket Job(string jobId, string tenant = "t", int maxTokens = 100, IJobEventSink[]? watchers = null, DateTimeOffset? deadline = null) =>
        Ticket(jobId, tenant, Model, maxTokens: maxTokens, watchers: watchers, deadline: deadline) with { SubmittedAt = _time.GetUtcNow() };

    private static ReplicaRegistration On(string replicaId, string nodeId, int maxSequences) =>
        Replica(replicaId, Model, nodeId, maxSequences, kvCapacityTokens: 100_000);

    private AdmissionRound Enqueue(string jobId, string tenant = "t") => _placement.Enqueue(Job(jobId, tenant)).Round!;

    /// <summary>Replica "r" on node "n", reached through stream "link", then jobs queued in order (admitted while they fit).</summary>
    private void ReplicaWith(int maxSequences, params string[] jobIds)
    {
        _placement.UpsertReplicas("link", [On("r", "n", maxSequences)]);
        foreach (var jobId in jobIds)
        {
            Enqueue(jobId);
        }
    }

    [Fact]
    public void Snapshot_CountsEachTenantsJobsQueuedAndRunning()
    {
        _placement.UpsertReplicas("link", [On("r", "n", maxSequences: 2)]);
        Enqueue("a-1", tenant: "a");
        Enqueue("b-1", tenant: "b");
        Enqueue("a-2", tenant: "a");
        Enqueue("a-3", tenant: "a");

        var snapshot = _placement.Snapshot();

        Assert.Equal(new Dictionary<string, int> { ["a"] = 1, ["b"] = 1 }, snapshot.RunningByTenant);
        Assert.Equal(new Dictionary<string, int> { ["a"] = 2 }, snapshot.QueuedByTenant);
    }

    [Fact]
    public void AdmitWhatFits_ASessionsTurnWaitsForItsFullReplica_ExplainsIt_AndWakesTheGrainWhenTheWaitEnds()
    {
        _placement.UpsertReplicas("link-1", [On("r1", "n1", maxSequences: 1)]);
        _placement.UpsertReplicas("link-2", [On("r2", "n2", maxSequences: 1)]);
        JobTicket Turn(string jobId) => Job(jobId) with { Request = Job(jobId).Request with { SessionId = "chat" } };
        var first = Assert.Single(AdmittedIds(_placement.Enqueue(Turn("turn-1")).Round!));
        var holder = _placement.Snapshot().Replicas.Single(r => r.RunningSequences == 1).ReplicaId;

        var round = _placement.Enqueue(Turn("turn-2")).Round!;

        Assert.Equal("turn-1", first);
        Assert.Empty(round.Batches);
        var request = Job("turn-2").Request;
        var waitEnds = _time.GetUtcNow().AddMilliseconds(
            request.TtftObjectiveMs - ReplicaPrediction.IdleTtftMs(AcceleratorProfiles.H100, request.PromptTokens));
        Assert.Equal(waitEnds, round.WakeAt);
        var wait = Assert.Single(_placement.Explain("turn-2")!.Value.Events, e => e.Reason == WaitReason.SessionReplicaFull);
        Assert.Contains(holder, wait.Detail, StringComparison.Ordinal);

        // Woken when the wait ends, the turn goes to the free replica.
        _time.Advance(waitEnds - _time.GetUtcNow());
        var woken = _placement.AdmitWhatFits();
        Assert.Equal(["turn-2"], AdmittedIds(woken));
        Assert.NotEqual(holder, Assert.Single(woken.Batches).ReplicaId);
        Assert.Null(woken.WakeAt);
    }

    [Fact]
    public void OnProgress_BlocksTheEngineEvicted_LeaveTheReplicasIndex_AndANewStreamEmptiesIt()
    {
        _placement.UpsertReplicas("link-1", [On("r", "n", maxSequences: 2)]);
        var prompt = new string('p', 3 * PromptBlocks.DefaultBlockTokens * PromptBlocks.CharsPerToken) + "tail";
        var blocks = PromptBlocks.FromText(prompt)!;
        JobTicket Prompted(string jobId) => Job(jobId) with { Request = Job(jobId).Request with { Prompt = prompt, PromptTokens = 200 } };
        Assert.Equal(["first"], AdmittedIds(_placement.Enqueue(Prompted("first")).Round!));
        _placement.OnProgress("r", ["first"], [new FinishedSequence("first", 100, FinishReason.Length)]);
        Assert.Equal((3, 0L), (ReplicaState("r").CachedPrefixBlocks, ReplicaState("r").PrefixBlocksForgotten));

        // The engine's report: its cache evicted the prompt's last block (and one the index never held).
        Assert.NotNull(_placement.OnProgress("r", [], [], [blocks.Hashes[2], 99UL]));
        Assert.Equal((2, 1L), (ReplicaState("r").CachedPrefixBlocks, ReplicaState("r").PrefixBlocksForgotten));

        // The node registers a new stream: its engine may have restarted with an empty cache.
        _placement.UpsertReplicas("link-2", [On("r", "n", maxSequences: 2)]);
        Assert.Equal(0, ReplicaState("r").CachedPrefixBlocks);
    }

    private ReplicaSnapshot ReplicaState(string replicaId) => _placement.Snapshot().Replicas.Single(r => r.ReplicaId == replicaId);

    private static string[] AdmittedIds(AdmissionRound round) => [.. round.Batches.SelectMany(b => b.Sequences).Select(s => s.Ticket.JobId)];

    /// <summary>The fleet's gauges read a snapshot every 10 s, in the placement's one turn at a time; it grouped every
    /// queued job (50,000 after a restart under a deep queue: turns of seconds on a loaded silo).</summary>
    [Fact]
    public void Snapshot_FiftyThousandQueued_CountsThemWithoutWalkingThem()
    {
        for (var i = 0; i < 50_000; i++)
        {
            _placement.Enqueue(Ticket($"j{i}", $"t{i % 50}", Model, prompt: 100, maxTokens: 10, priority: i % 10 == 0 ? JobPriority.Critical : JobPriority.Standard));
        }

        PlacementSnapshot snapshot = null!;
        _placement.Snapshot();
        var spent = ThreadCpuTime.Of(() =>
        {
            for (var i = 0; i < 20; i++)
            {
                snapshot = _placement.Snapshot();
            }
        });

        Assert.Equal(50_000, snapshot.QueuedJobs);
        Assert.Equal(50, snapshot.QueuedByTenant.Count);
        Assert.All(snapshot.QueuedByTenant.Values, jobs => Assert.Equal(1_000, jobs));
        Assert.Equal(5_000, snapshot.QueuedByTenantAndPriority!.Where(q => q.Priority == JobPriority.Critical).Sum(q => q.Count));
        Assert.Equal((5_000_000L, 500_000L), (snapshot.Capacity!.QueuedPromptTokens, snapshot.Capacity.QueuedOutputTokens));
        Assert.True(spent < TimeSpan.FromMilliseconds(20), $"20 snapshots of 50,000 queued jobs took {spent.TotalMilliseconds:0} ms of CPU");
    }

    [Fact]
    public void Snapshot_Capacity_MeasuresArrivalsQueueAndFirstTokens_AndForgetsThemAfterTheWindow()
    {
        var window = new PlacementOptions().Capacity.Window;
        ReplicaWith(1, "a", "b", "c");
        var queued = _placement.Snapshot().Capacity!;
        Assert.Equal((200L, 200L), (queued.QueuedPromptTokens, queued.QueuedOutputTokens));

        // a's first token within its 1 s objective (a repeated report counts once); b's 2 s late.
        _time.Advance(TimeSpan.FromMilliseconds(10));
        _placement.OnProgress("r", ["a"], []);
        _placement.OnProgress("r", ["a"], []);
        _time.Advance(TimeSpan.FromSeconds(2));
        _placement.OnProgress("r", [], [new FinishedSequence("a", 100, FinishReason.Length)]);
        _placement.OnProgress("r", ["b"], []);

        var busy = _placement.Snapshot().Capacity!;
        Assert.Equal((300 / window.TotalSeconds, 300 / window.TotalSeconds, 100L, 100L, 0.5),
            (busy.PromptTokensPerSecond, busy.OutputTokensPerSecond, busy.QueuedPromptTokens, busy.QueuedOutputTokens, busy.Attainment));
        var pool = busy.Pools.Single();
        Assert.Equal(("H100", 1, 1, 8, false), (pool.Pool, pool.Replicas, pool.WantedReplicas, pool.MaxReplicas, pool.Metered));
        Assert.True(pool.BusyReplicas > 0);
        Assert.Equal(0.9 * 0.75, pool.TargetUtilisation, 9);

        // Past the window with nothing left: nothing arrived, nothing waits, only the warm floor is wanted.
        _placement.Cancel("c");
        _placement.OnProgress("r", [], [new FinishedSequence("b", 100, FinishReason.Length)]);
        _time.Advance(window + TimeSpan.FromSeconds(1));
        var idle = _placement.Snapshot().Capacity!;
        Assert.Equal((0.0, 0.0, 0L, 0L), (idle.PromptTokensPerSecond, idle.OutputTokensPerSecond, idle.QueuedPromptTokens, idle.QueuedOutputTokens));
        Assert.True(double.IsNaN(idle.Attainment));
        Assert.Equal((1, 1, 0.9), (idle.Pools.Single().Replicas, idle.Pools.Single().WantedReplicas, idle.Pools.Single().TargetUtilisation));
    }

    [Fact]
    public void Snapshot_Capacity_SizesEachWorkerPoolApart_TheCheaperFirst_AndAReplicaOfNoPoolInItsProducts()
    {
        // Two pools of one product at their own prices, and a node of an earlier version that names no pool.
        var h100 = AcceleratorProfiles.H100;
        _placement.UpsertReplicas("link-1", [On("on-demand", "n1", 1) with { Pool = "h100-on-demand", Profile = h100 with { PricePerHourUsd = 4 } }]);
        _placement.UpsertReplicas("link-2", [On("spot", "n2", 1) with { Pool = "h100-spot", Profile = h100 with { PricePerHourUsd = 1.5 } }]);
        _placement.UpsertReplicas("link-3", [On("old", "n3", 1) with { Profile = h100 with { PricePerHourUsd = 3 } }]);

        var pools = _placement.Snapshot().Capacity!.Pools.ToDictionary(p => p.Pool);

        Assert.Equal(["H100", "h100-on-demand", "h100-spot"], pools.Keys.Order(StringComparer.Ordinal));
        Assert.All(pools.Values, p => Assert.Equal(("H100", 1), (p.Product, p.Replicas)));

        // Idle, only the warm floor is wanted, and of the cheapest pool alone.
        Assert.Equal((0, 0, 1), (pools["h100-on-demand"].WantedReplicas, pools["H100"].WantedReplicas, pools["h100-spot"].WantedReplicas));
    }

    [Fact]
    public void AdmitWhatFits_GroupsAdmissionsOneBatchPerReplica_AndCountsEachTenantsFirstAdmissions()
    {
        for (var i = 0; i < 5; i++)
        {
            Assert.Empty(AdmittedIds(Enqueue($"j{i}", i % 2 == 0 ? "ta" : "tb")));
        }

        Assert.True(_placement.UpsertReplicas("link-a", [On("ra", "na", maxSequences: 3)]));
        Assert.True(_placement.UpsertReplicas("link-b", [On("rb", "nb", maxSequences: 3)]));
        var round = _placement.AdmitWhatFits();

        Assert.Equal([("na", "ra"), ("nb", "rb")], round.Batches.Select(b => (b.NodeId, b.ReplicaId)).Order());
        Assert.All(round.Batches, b => Assert.All(b.Sequences, s => Assert.Equal((b.NodeId, b.ReplicaId), (s.Placement.NodeId, s.Placement.ReplicaId))));
        Assert.Equal(["j0", "j1", "j2", "j3", "j4"], AdmittedIds(round).Order());
        Assert.Equal(["ta", "tb"], round.AdmittedPerTenant.Keys.Order());
        Assert.Equal(["j0", "j2", "j4"], round.AdmittedPerTenant["ta"].Order());
        Assert.Equal(["j1", "j3"], round.AdmittedPerTenant["tb"].Order());
        Assert.Empty(round.Ended);
        Assert.Null(round.WakeAt);
        Assert.Equal(0, _placement.Snapshot().QueuedJobs);
    }

    [Fact]
    public void AdmitWhatFits_CapsThePrefillOfJobsAdmittedWhileTheirTenantIsBacklogged_WithTheConfiguredWindow()
    {
        var options = new PlacementOptions { ContendedPrefillTokens = 300, ContendedPrefillWindow = TimeSpan.FromMilliseconds(750) };
        var placement = new ModelPlacement(Model, new PlacementState(), options, _time, NullLogger.Instance);
        foreach (var (jobId, tenant) in new[] { ("f0", "flood"), ("f1", "flood"), ("f2", "flood"), ("l0", "light") })
        {
            placement.Enqueue(Job(jobId, tenant));
        }

        placement.UpsertReplicas("link", [On("r", "n", maxSequences: 8)]);
        var sequences = placement.AdmitWhatFits().Batches.SelectMany(b => b.Sequences).ToDictionary(s => s.Ticket.JobId);

        // Fair order f0, l0, f1, f2: the flood's jobs admitted with more of its own still queued are capped; its last one
        // and the light tenant's are not (and carry no window).
        Assert.Equal((300, 750), (sequences["f0"].ContendedPrefillTokens, sequences["f0"].ContendedPrefillWindowMs));
        Assert.Equal((300, 750), (sequences["f1"].ContendedPrefillTokens, sequences["f1"].ContendedPrefillWindowMs));
        Assert.Equal((0, 0), (sequences["f2"].ContendedPrefillTokens, sequences["f2"].ContendedPrefillWindowMs));
        Assert.Equal((0, 0), (sequences["l0"].ContendedPrefillTokens, sequences["l0"].ContendedPrefillWindowMs));
    }

    [Fact]
    public void AdmitWhatFits_PricesTheWaitAtTheConfiguredWaitCost_InTheCostItComparesAndExplains()
    {
        WeighedClass Candidate(double waitCostUsdPerSecond)
        {
            var placement = new ModelPlacement(Model, new PlacementState(), new PlacementOptions { WaitCostUsdPerSecond = waitCostUsdPerSecond }, _time, NullLogger.Instance);
            placement.UpsertReplicas("link", [On("r", "n", maxSequences: 4)]);
            placement.Enqueue(Job("j"));
            return Assert.Single(placement.Explain("j")!.Value.Events.Single(e => e.Kind == JobTraceKind.Admitted).Candidates!);
        }

        var unpriced = Candidate(0);
        var priced = Candidate(0.5);

        Assert.True(unpriced.PredictedTtftMs > 0);
        Assert.Equal(unpriced.PredictedTtftMs, priced.PredictedTtftMs);
        Assert.Equal(unpriced.PredictedCostUsd + (0.5 * unpriced.PredictedTtftMs / 1000), priced.PredictedCostUsd, 1e-12);
    }

    [Fact]
    public void AdmitWhatFits_PricesASessionsWaitsAtTheConfiguredSessionWaitCost_OnlyForASessionsJob()
    {
        WeighedClass Candidate(double sessionWaitCostUsdPerSecond, string? session)
        {
            var options = new PlacementOptions { WaitCostUsdPerSecond = 0, SessionWaitCostUsdPerSecond = sessionWaitCostUsdPerSecond };
            var placement = new ModelPlacement(Model, new PlacementState(), options, _time, NullLogger.Instance);
            placement.UpsertReplicas("link", [On("r", "n", maxSequences: 4)]);
            placement.Enqueue(Job("j") with { Request = Job("j").Request with { SessionId = session } });
            return Assert.Single(placement.Explain("j")!.Value.Events.Single(e => e.Kind == JobTraceKind.Admitted).Candidates!);
        }

        var unpriced = Candidate(0, "chat");
        var priced = Candidate(0.5, "chat");

        // The turn's own wait at $0.50 a second, and its next turn's predicted wait there on top.
        Assert.Equal(unpriced.PredictedTtftMs, priced.PredictedTtftMs);
        Assert.True(priced.PredictedCostUsd > unpriced.PredictedCostUsd + (0.5 * unpriced.PredictedTtftMs / 1000));
        // A job without a session is priced as before.
        Assert.Equal(Candidate(0, session: null).PredictedCostUsd, Candidate(0.5, session: null).PredictedCostUsd);
    }

    [Theory]
    [InlineData(10, "b2")]     // b1 generated 10 of its 100 tokens: tenant b is refunded 90 × 2 and goes first
    [InlineData(100, "a2")]    // no refund: the counters tie, and a comes first
    public void OnProgress_Finished_RefundsTheOutputItDidNotGenerate(int completionTokens, string servedNext)
    {
        // The freed slot is the only room: no preemption (tenant b, under its share, would otherwise take a1's slot).
        var placement = new ModelPlacement(Model, new PlacementState(), new PlacementOptions { MaxPreemptions = 0 }, _time, NullLogger.Instance);
        placement.UpsertReplicas("link", [On("r", "n", maxSequences: 2)]);
        Assert.Equal(["a1"], AdmittedIds(placement.Enqueue(Job("a1", "a")).Round!));
        Assert.Equal(["b1"], AdmittedIds(placement.Enqueue(Job("b1", "b")).Round!));
        placement.Enqueue(Job("a2", "a"));
        placement.Enqueue(Job("b2", "b"));

        var round = placement.OnProgress("r", ["a1", "b1"], [new FinishedSequence("b1", completionTokens, FinishReason.Stop)]);

        Assert.Equal([servedNext], AdmittedIds(round!));
    }

    [Fact]
    public void Requeue_FromAStreamTheReplicaNoLongerUses_IsIgnored()
    {
        _placement.UpsertReplicas("link-1", [On("r", "n", maxSequences: 2)]);
        Enqueue("j0");

        // The node registers anew: what ran under the old stream is handed back at once and admitted again.
        Assert.False(_placement.UpsertReplicas("link-2", [On("r", "n", maxSequences: 2)]));
        var readmitted = _placement.AdmitWhatFits();
        Assert.Equal(["j0"], AdmittedIds(readmitted));
        Assert.Empty(readmitted.AdmittedPerTenant);

        Assert.Null(_placement.Requeue("r", "link-1", [new RequeuedSequence("j0", 5)], HandBack.NodeLost));
        Assert.True(ReplicaState("r").Schedulable);
        Assert.Equal(["j0"], ReplicaState("r").RunningJobIds);

        var round = _placement.Requeue("r", "link-2", [new RequeuedSequence("j0", 5)], HandBack.StreamClosed);
        var sequence = Assert.Single(Assert.Single(round!.Batches).Sequences);
        Assert.Equal(5, sequence.Ticket.ResumeFromToken);
        Assert.Empty(round.AdmittedPerTenant);
    }

    [Fact]
    public void Requeue_KeepsWhenTheJobWasFirstAdmittedAndFirstDeliveredAToken_ThroughLaterRuns()
    {
        ReplicaWith(1, "j0");
        var admitted = _time.GetUtcNow();
        var firstToken = admitted.AddMilliseconds(140);

        var round = _placement.Requeue("r", "link", [new RequeuedSequence("j0", 3, FirstAdmittedAt: admitted, FirstTokenAt: firstToken)], HandBack.StreamClosed);
        var resumed = Assert.Single(Assert.Single(round!.Batches).Sequences).Ticket;
        Assert.Equal((3, admitted, firstToken), (resumed.ResumeFromToken, resumed.FirstAdmittedAt, resumed.FirstTokenAt));

        // The resumed run hands it back with its own, later times: the first run's stay.
        var later = admitted.AddSeconds(5);
        round = _placement.Requeue("r", "link", [new RequeuedSequence("j0", 6, FirstAdmittedAt: later, FirstTokenAt: later)], HandBack.StreamClosed);
        resumed = Assert.Single(Assert.Single(round!.Batches).Sequences).Ticket;
        Assert.Equal((6, admitted, firstToken), (resumed.ResumeFromToken, resumed.FirstAdmittedAt, resumed.FirstTokenAt));
    }

    [Fact]
    public void Requeue_NodeLost_SwitchesTheReplicaOff_AndPutsItsJobsFirst()
    {
        ReplicaWith(1, "j0", "j1");

        var round = _placement.Requeue("r", "link", [new RequeuedSequence("j0", 7)], HandBack.NodeLost);

        Assert.Empty(round!.Batches);
        Assert.False(ReplicaState("r").Schedulable);
        Assert.Equal(new JobLocation(null, 0), _placement.Locate("j0"));
        Assert.Equal(new JobLocation(null, 1), _placement.Locate("j1"));
    }

    [Fact]
    public void Requeue_NodeLost_SwitchesOffEveryReplicaOfThatNode_BeforeItsJobsAreAdmittedAgain()
    {
        // Node "n" serves two replicas over one stream; its stream breaks with a job on one of them.
        _placement.UpsertReplicas("link", [On("ra", "n", maxSequences: 1), On("rb", "n", maxSequences: 1)]);
        var ran = Assert.Single(Enqueue("j0").Batches).ReplicaId;
        var other = ran == "ra" ? "rb" : "ra";
        _placement.UpsertReplicas("link-2", [On("rc", "n2", maxSequences: 1)]);

        var round = _placement.Requeue(ran, "link", [new RequeuedSequence("j0", 5)], HandBack.NodeLost);

        // The job resumes on the live node, not on the dead node's other replica (a dispatch that would be refused): the
        // other replica's own hand-back comes in a message of its own, after this round.
        Assert.Equal(("rc", "j0"), (Assert.Single(round!.Batches).ReplicaId, AdmittedIds(round).Single()));
        Assert.False(ReplicaState(other).Schedulable);
        Assert.True(ReplicaState("rc").Schedulable);
    }

    [Fact]
    public void Requeue_Rejected_HoldsTheReplica_UntilASequenceFinishesThere()
    {
        ReplicaWith(2, "j0", "j1");

        var held = _placement.Requeue("r", "link", [new RequeuedSequence("j1", 0)], HandBack.Rejected);
        Assert.Empty(held!.Batches);
        Assert.Equal(_time.GetUtcNow() + s_hold, held.WakeAt);
        Assert.False(ReplicaState("r").Schedulable);

        var round = _placement.OnProgress("r", ["j0"], [new FinishedSequence("j0", 100, FinishReason.Length)]);

        Assert.Equal(["j1"], AdmittedIds(round!));
        Assert.True(ReplicaState("r").Schedulable);
        Assert.Null(round!.WakeAt);
    }

    // What the llama.cpp engine says when it hands a sequence back for want of KV cells (LlamaEngine.HandBackForRoom).
    private const string NoKvCells = "llama.cpp found no free KV cells for its next token 3 steps in a row on replica r1 (its cache fuller than the engine counts): handed back, as the waiting sequence holding the most cells (900), so the others can go on";

    [Fact]
    public void Requeue_HandedBackForWantOfKvCells_GoesToAnotherReplicaWithRoom_NotBackToTheOneThatRefusedIt()
    {
        // r1 is where the job's prompt is cached and its session ran: both draw it back there, but for the hold.
        _placement.UpsertReplicas("link-1", [On("r1", "n1", maxSequences: 2)]);
        var prompt = new string('p', 3 * PromptBlocks.DefaultBlockTokens * PromptBlocks.CharsPerToken);
        var ticket = Job("j0") with { Request = Job("j0").Request with { Prompt = prompt, PromptTokens = 200, SessionId = "chat" } };
        Assert.Equal(["j0"], AdmittedIds(_placement.Enqueue(ticket).Round!));
        _placement.OnProgress("r1", ["j0"], []);
        _placement.UpsertReplicas("link-2", [On("r2", "n2", maxSequences: 2)]);

        var round = _placement.Requeue("r1", "link-1", [new RequeuedSequence("j0", 5, Error: NoKvCells)], HandBack.Rejected);

        var readmitted = Assert.Single(Assert.Single(round!.Batches).Sequences);
        Assert.Equal(("r2", 5, 1), (readmitted.Placement.ReplicaId, readmitted.Ticket.ResumeFromToken, readmitted.Ticket.HandBacks));
        Assert.False(ReplicaState("r1").Schedulable);
    }

    [Fact]
    public void SetSchedulable_OpeningAReplicaHeldForARefusal_KeepsItHeld_SoTheJobItRefusedDoesNotGoStraightBack()
    {
        _placement.UpsertReplicas("link-1", [On("r1", "n1", maxSequences: 2)]);
        Assert.Equal(["j0", "j1"], [.. AdmittedIds(Enqueue("j0")), .. AdmittedIds(Enqueue("j1"))]);
        _placement.UpsertReplicas("link-2", [On("r2", "n2", maxSequences: 1)]);
        Assert.Equal(["j2"], AdmittedIds(Enqueue("j2")));
        _placement.Requeue("r1", "link-1", [new RequeuedSequence("j1", 3, Error: NoKvCells)], HandBack.Rejected);

        // Its accelerator's state is pushed again (uncordoned, say) while r1 is held: it stays held. Opened, it took back
        // at once the job it had just refused, and with its hold still on the books it was not held again at its next
        // refusal: the job could bounce there until MaxHandBacks failed it, another replica free or not.
        Assert.False(_placement.SetSchedulable("r1", true));
        Assert.Empty(_placement.AdmitWhatFits().Batches);
        Assert.False(ReplicaState("r1").Schedulable);

        // Room elsewhere takes it; the hold passes as it would have.
        Assert.Equal(["j1"], AdmittedIds(_placement.OnProgress("r2", ["j2"], [new FinishedSequence("j2", 100, FinishReason.Length)])!));
        Assert.Equal("r2", _placement.Describe("j1")!.Placement!.ReplicaId);
        _time.Advance(s_hold);
        _placement.AdmitWhatFits();
        Assert.True(ReplicaState("r1").Schedulable);
    }

    [Fact]
    public void Requeue_Rejected_WithNothingFinishingThere_TakesWorkAgainOnceTheHoldHasPassed()
    {
        ReplicaWith(2, "j0");
        _placement.Requeue("r", "link", [new RequeuedSequence("j0", 0)], HandBack.Rejected);

        _time.Advance(s_hold - TimeSpan.FromMilliseconds(1));
        Assert.Empty(_placement.AdmitWhatFits().Batches);
        Assert.False(ReplicaState("r").Schedulable);

        _time.Advance(TimeSpan.FromMilliseconds(1));
        var round = _placement.AdmitWhatFits();

        Assert.Equal(["j0"], AdmittedIds(round));
        Assert.Null(round.WakeAt);
    }

    [Fact]
    public void Requeue_Rejected_ReplicaSwitchedOffMeanwhile_StaysOffWhenTheHoldPasses()
    {
        ReplicaWith(2, "j0");
        _placement.Requeue("r", "link", [new RequeuedSequence("j0", 0)], HandBack.Rejected);
        Assert.True(_placement.SetSchedulable("r", false));

        _time.Advance(s_hold);
        var round = _placement.AdmitWhatFits();

        Assert.Empty(round.Batches);
        Assert.False(ReplicaState("r").Schedulable);
        Assert.Contains("r", _persisted.Unschedulable);
    }

    [Fact]
    public void Requeue_EngineFailure_FailsTheJobOnceHandedBackMoreThanMaxHandBacks_WithTheEnginesLastError()
    {
        var watcher = new RecordingJobSink();
        _placement.UpsertReplicas("link", [On("r", "n", maxSequences: 1)]);
        Assert.Equal(["j0"], AdmittedIds(_placement.Enqueue(Job("j0", watchers: [watcher])).Round!));

        for (var handBack = 1; handBack <= s_maxHandBacks; handBack++)
        {
            var output = new DeliveredOutput(new string('x', handBack), [.. Enumerable.Range(1, handBack)]);
            var round = _placement.Requeue("r", "link", [new RequeuedSequence("j0", handBack, output, $"upstream answered 500: boom {handBack}")], HandBack.Rejected);

            // Queued again, resuming after what it delivered; its ticket (journaled) and its record say why it waits.
            Assert.Empty(round!.Ended);
            var handedBack = Assert.Single(round.Requeued);
            Assert.Equal(("j0", handBack, $"upstream answered 500: boom {handBack}", handBack),
                (handedBack.JobId, handedBack.HandBacks, handedBack.LastHandBackError, handedBack.ResumeFromToken));
            Assert.Equal(new JobLocation(null, 0), _placement.Locate("j0"));
            var live = _placement.Describe("j0");
            Assert.Equal((JobStatus.Queued, handBack, $"upstream answered 500: boom {handBack}"), (live!.Status, live.Ticket.HandBacks, live.Ticket.LastHandBackError));

            _time.Advance(s_hold);
            var readmitted = Assert.Single(Assert.Single(_placement.AdmitWhatFits().Batches).Sequences);
            Assert.Equal(handBack, readmitted.Ticket.ResumeFromToken);
        }

        var last = new DeliveredOutput("xxxxxxy", [1, 2, 3, 4, 5, 6, 7]);
        var failedRound = _placement.Requeue("r", "link", [new RequeuedSequence("j0", 7, last, "upstream answered 500: boom last")], HandBack.Rejected);

        var failed = Assert.Single(failedRound!.Ended);
        Assert.Empty(failedRound.Requeued);
        Assert.Empty(failedRound.Batches);
        Assert.Equal(("j0", s_maxHandBacks + 1, "upstream answered 500: boom last"), (failed.Ticket.JobId, failed.Ticket.HandBacks, failed.Ticket.LastHandBackError));
        Assert.Equal("r", failed.Placement!.ReplicaId);
        Assert.Equal(JobStatus.Failed, failed.Outcome.Status);
        Assert.Equal(JobFinishReasons.Error, failed.Outcome.FinishReason);
        // The tenant's words: no server setting it can neither see nor change (the operator's log names it).
        Assert.Equal(
            $"the engine failed the job and handed it back {s_maxHandBacks + 1} times, more than the {s_maxHandBacks} allowed; the last time: upstream answered 500: boom last",
            failed.Outcome.Error);
        Assert.Equal("xxxxxxy", failed.Outcome.Output);
        Assert.Equal([1, 2, 3, 4, 5, 6, 7], failed.Outcome.TokenEnds);
        Assert.Equal(7, failed.Outcome.Usage.CompletionTokens);
        Assert.Equal([watcher], failed.Announcement.Watchers);
        Assert.Equal(JobEventKind.Failed, failed.Announcement.Event.Kind);
        Assert.Equal(failed.Outcome.Error, failed.Announcement.Event.Error);
        Assert.Null(_placement.Locate("j0"));
        Assert.Equal(CancelOutcome.NotFound, _placement.Cancel("j0").Outcome);
        Assert.Empty(ReplicaState("r").RunningJobIds);
    }

    [Fact]
    public void Requeue_EngineFailure_CountInTheJournaledTicket_CarriesOnInAPlacementRebuiltAfterAFailover()
    {
        var options = new PlacementOptions { MaxHandBacks = 2 };
        _placement.UpsertReplicas("link", [On("r", "n", maxSequences: 1)]);
        _placement.Enqueue(Job("j0"));
        JobTicket? journaled = null;
        for (var handBack = 1; handBack <= 2; handBack++)
        {
            var round = _placement.Requeue("r", "link", [new RequeuedSequence("j0", 0, Error: $"boom {handBack}")], HandBack.Rejected);
            journaled = Assert.Single(round!.Requeued);
            _time.Advance(s_hold);
            _placement.AdmitWhatFits();
        }

        Assert.Equal(2, journaled!.HandBacks);

        // The placement's silo dies: a new activation rebuilds from the journal, where the ticket was last written.
        var persisted = new PlacementState();
        persisted.Replicas["r"] = On("r", "n", maxSequences: 1);
        var rebuilt = new ModelPlacement(Model, persisted, options, _time, NullLogger.Instance);
        Assert.Equal(["j0"], AdmittedIds(Recover(rebuilt, new RecoveryPlan([new LiveReplica("r", "link-2")], [new RecoveredJob(journaled, WasAdmitted: true, ResumeOn: null)]))));

        // Its third hand-back is its third, past the two allowed: it fails rather than starting over at one.
        var third = rebuilt.Requeue("r", "link-2", [new RequeuedSequence("j0", 0, Error: "boom 3")], HandBack.Rejected);
        Assert.Empty(third!.Requeued);
        var failed = Assert.Single(third.Ended);
        Assert.Equal(3, failed.Ticket.HandBacks);
        Assert.Contains("handed it back 3 times", failed.Outcome.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void LoseLink_AJobThatHadItsFirstToken_KeepsItsFirstRunsTimes_WhenItRunsAgain()
    {
        // Its stream died with its silo, which alone knew the tokens delivered: the job reruns from its journaled ticket,
        // and its record measured queue time and TTFT to the rerun's admission and first token, though its client had
        // had tokens long before.
        _placement.UpsertReplicas("link-1", [On("r", "n", maxSequences: 1)]);
        var submitted = _time.GetUtcNow();
        _time.Advance(TimeSpan.FromMilliseconds(40));
        Assert.Equal(["j0"], AdmittedIds(Enqueue("j0")));
        var admitted = _time.GetUtcNow();
        _time.Advance(TimeSpan.FromMilliseconds(60));
        _placement.OnProgress("r", ["j0"], []);
        var firstToken = _time.GetUtcNow();

        _time.Advance(TimeSpan.FromSeconds(5));
        _placement.LoseLink("link-1");
        _placement.UpsertReplicas("link-2", [On("r2", "n2", maxSequences: 1)]);
        var again = Assert.Single(_placement.AdmitWhatFits().Batches.SelectMany(b => b.Sequences)).Ticket;

        Assert.Equal((0, admitted, firstToken), (again.ResumeFromToken, again.FirstAdmittedAt, again.FirstTokenAt));
        Assert.True(again.FirstAdmittedAt > submitted);
    }

    [Fact]
    public void Requeue_ForAnyReason_TheTicketToJournalCarriesTheCount_IntoAPlacementRebuiltAfterAFailover()
    {
        // Every way a job goes back to its queue from a replica but an engine's failure: each round hands the grain
        // the job's ticket to journal, counting one more re-queue, with where from, why and where it resumes.
        _placement.UpsertReplicas("link-1", [On("r", "n", maxSequences: 1)]);
        Assert.Equal(["j0"], AdmittedIds(Enqueue("j0")));
        var journaled = new List<JobTicket>();
        void Requeued(AdmissionRound? round) => journaled.Add(Assert.Single(round!.Requeued));

        Requeued(_placement.Requeue("r", "link-1", [new RequeuedSequence("j0", 2)], HandBack.StreamClosed));
        Requeued(_placement.Requeue("r", "link-1", [new RequeuedSequence("j0", 4)], HandBack.NodeLost));
        _placement.UpsertReplicas("link-2", [On("r", "n", maxSequences: 1)]);
        Assert.Equal(["j0"], AdmittedIds(_placement.AdmitWhatFits()));
        _placement.UpsertReplicas("link-3", [On("r", "n", maxSequences: 1)]);
        Requeued(_placement.AdmitWhatFits());
        Requeued(_placement.LoseLink("link-3"));
        _placement.UpsertReplicas("link-4", [On("r2", "n2", maxSequences: 1)]);
        Assert.Equal(["j0"], AdmittedIds(_placement.AdmitWhatFits()));
        _placement.RemoveReplicas(["r2"]);
        Requeued(_placement.AdmitWhatFits());

        Assert.Equal([1, 2, 3, 4, 5], journaled.Select(t => t.Requeues));
        Assert.All(journaled, t => Assert.Equal(0, t.HandBacks));
        Assert.Equal([2, 4, 4, 4, 4], journaled.Select(t => t.ResumeFromToken));
        Assert.Equal(
            [
                "from replica r (node n): its stream was closed by its owner",
                "from replica r (node n): its node was lost (stream broken or lease expired)",
                "from replica r (node n): its node registered a new stream; the jobs counted under the old one went down with it",
                "from replica r (node n): its node was lost (its lease lapsed after the silo holding its stream failed)",
                "from replica r2 (node n2): its node left and was forgotten",
            ],
            journaled.Select(t => t.LastRequeue));

        // The placement's silo dies: a new activation rebuilds from the journal, where the ticket was last written.
        var persisted = new PlacementState();
        persisted.Replicas["r"] = On("r", "n", maxSequences: 1);
        var rebuilt = new ModelPlacement(Model, persisted, new PlacementOptions(), _time, NullLogger.Instance);
        var plan = RecoveryPlanner.Plan(persisted, [("n", new NodeJobs("link-5", []))], [journaled[^1]]);
        Assert.Equal(["j0"], AdmittedIds(Recover(rebuilt, plan)));
        Assert.True(Assert.Single(plan.Jobs).WasAdmitted);

        // Its record shows the five, and its next re-queue is its sixth.
        Assert.Equal((5, journaled[^1].LastRequeue), (rebuilt.Describe("j0")!.Ticket.Requeues, rebuilt.Describe("j0")!.Ticket.LastRequeue));
        var sixth = Assert.Single(rebuilt.Requeue("r", "link-5", [new RequeuedSequence("j0", 6)], HandBack.NodeLost)!.Requeued);
        Assert.Equal((6, 6), (sixth.Requeues, sixth.ResumeFromToken));
    }

    [Fact]
    public void Requeue_WithoutAnEngineError_IsNotCountedAgainstTheJob()
    {
        // With no hand-back allowed, a counted one would fail the job at once.
        var placement = new ModelPlacement(Model, new PlacementState(), new PlacementOptions { MaxHandBacks = 0 }, _time, NullLogger.Instance);
        placement.UpsertReplicas("link", [On("r", "n", maxSequences: 1)]);
        Assert.Equal(["j0"], AdmittedIds(placement.Enqueue(Job("j0")).Round!));

        // A lost node, a closed stream, an engine without room: none of it is the job's doing. Each is a re-queue,
        // journaled as one, with no hand-back.
        var requeues = 0;
        foreach (var reason in new[] { HandBack.NodeLost, HandBack.StreamClosed, HandBack.Rejected })
        {
            var round = placement.Requeue("r", "link", [new RequeuedSequence("j0", 0)], reason);
            Assert.Empty(round!.Ended);
            var journaled = Assert.Single(round.Requeued);
            Assert.Equal((++requeues, 0), (journaled.Requeues, journaled.HandBacks));

            // The node registers again (ending any hold): the job runs again.
            placement.UpsertReplicas("link", [On("r", "n", maxSequences: 1)]);
            Assert.Equal(["j0"], [.. AdmittedIds(round), .. AdmittedIds(placement.AdmitWhatFits())]);
        }

        var failed = placement.Requeue("r", "link", [new RequeuedSequence("j0", 0, Error: "upstream unreachable")], HandBack.Rejected);
        Assert.EndsWith("the last time: upstream unreachable", Assert.Single(failed!.Ended).Outcome.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(10, "b2")]     // b1 generated 10 of its 100 tokens before it failed: tenant b is refunded 90 × 2 and goes first
    [InlineData(100, "a2")]    // no refund: the counters tie, and a comes first
    public void Requeue_EngineFailure_FailedJob_RefundsTheOutputItDidNotGenerate(int deliveredTokens, string servedNext)
    {
        // The freed slot is the only room: no preemption.
        var placement = new ModelPlacement(Model, new PlacementState(), new PlacementOptions { MaxHandBacks = 0, MaxPreemptions = 0 }, _time, NullLogger.Instance);
        placement.UpsertReplicas("link", [On("r", "n", maxSequences: 2)]);
        Assert.Equal(["a1"], AdmittedIds(placement.Enqueue(Job("a1", "a")).Round!));
        Assert.Equal(["b1"], AdmittedIds(placement.Enqueue(Job("b1", "b")).Round!));
        placement.Enqueue(Job("a2", "a"));
        placement.Enqueue(Job("b2", "b"));

        var round = placement.Requeue("r", "link", [new RequeuedSequence("b1", deliveredTokens, Error: "upstream answered 503")], HandBack.Rejected);
        Assert.Equal("b1", Assert.Single(round!.Ended).Ticket.JobId);

        _time.Advance(s_hold);
        Assert.Equal([servedNext], AdmittedIds(placement.AdmitWhatFits()));
    }

    [Fact]
    public void Preemption_TheVictimIsStoppedBeforeTheAdmission_AndQueuedAgainFromItsDeliveredTokensWhenHandedBack()
    {
        ReplicaWith(2);
        Assert.Equal(["a1"], AdmittedIds(Enqueue("a1", "a")));
        Assert.Equal(["a2"], AdmittedIds(Enqueue("a2", "a")));
        _placement.OnProgress("r", ["a1", "a2"], []);

        // Tenant a holds both slots; b, under its share of the replica, takes the latest one's.
        var round = Enqueue("b1", "b");
        var admitted = Assert.Single(round.Batches.SelectMany(b => b.Sequences));
        Assert.Equal(("b1", "a2"), (admitted.Ticket.JobId, admitted.Displaces));
        Assert.Equal(["a1", "b1"], _placement.Snapshot().Replicas.Single().RunningJobIds.Order());

        // The engine stopped a2 after 7 tokens: it goes back to the queue, to resume at token 7 once there is room.
        var handedBack = _placement.Requeue("r", "link", [new RequeuedSequence("a2", 7)], HandBack.Preempted);
        Assert.Empty(AdmittedIds(handedBack!));
        Assert.Equal(1, _placement.Snapshot().QueuedJobs);
        var resumed = _placement.OnProgress("r", ["b1"], [new FinishedSequence("b1", 100, FinishReason.Length)]);
        var again = Assert.Single(resumed!.Batches.SelectMany(b => b.Sequences));
        Assert.Equal(("a2", 7, (string?)null), (again.Ticket.JobId, again.Ticket.ResumeFromToken, again.Displaces));
        Assert.Contains(_placement.Explain("a2")!.Value.Events, e => e.Kind == JobTraceKind.HandedBack && e.Detail.Contains("preempted", StringComparison.Ordinal));
    }

    [Fact]
    public void Preemption_TheVictimsTrace_ListsItsHandBackAndTheWaitItStarts_InTimeOrder()
    {
        ReplicaWith(2);
        Enqueue("a1", "a");
        Enqueue("a2", "a");
        _placement.OnProgress("r", ["a1", "a2"], []);
        Assert.Equal("a2", Enqueue("b1", "b").Batches.Single().Sequences.Single().Displaces);

        // a3 finds no slot: a run of rounds with that verdict begins before a2 comes back, and a2's wait joins it.
        Assert.Empty(AdmittedIds(Enqueue("a3", "a")));
        _time.AutoAdvanceAmount = TimeSpan.FromMilliseconds(1);
        _placement.Requeue("r", "link", [new RequeuedSequence("a2", 7)], HandBack.Preempted);

        var events = _placement.Explain("a2")!.Value.Events;
        var handedBack = events.Last(e => e.Kind == JobTraceKind.HandedBack);
        var waiting = events.Single(e => e.Kind == JobTraceKind.Waiting);
        Assert.Equal(handedBack.At, waiting.At);
        Assert.Equal(events.Select(e => e.At).Order(), events.Select(e => e.At));
    }

    [Fact]
    public void Preemption_AVictimThatFinishedBeforeTheStopReachedIt_IsDone()
    {
        ReplicaWith(2);
        Enqueue("a1", "a");
        Enqueue("a2", "a");
        Assert.Equal("a2", Enqueue("b1", "b").Batches.Single().Sequences.Single().Displaces);

        _placement.OnProgress("r", [], [new FinishedSequence("a2", 100, FinishReason.Length)]);

        Assert.Null(_placement.Locate("a2"));
        Assert.Equal(0, _placement.Snapshot().QueuedJobs);
        Assert.Empty(AdmittedIds(_placement.Requeue("r", "link", [new RequeuedSequence("a2", 100)], HandBack.Preempted)!));
    }

    [Fact]
    public void AdmitWhatFits_QueuedJobPastItsLatestStart_ExpiresWithItsOutcome_OnTheInjectedClock()
    {
        // No replica: nothing runs, and only the clock moves the jobs.
        var watcher = new RecordingJobSink();
        var start = _time.GetUtcNow();
        var soon = _placement.Enqueue(Job("j0", watchers: [watcher], deadline: start.AddMilliseconds(300))).Round!;
        _placement.Enqueue(Job("j1", deadline: start.AddMinutes(10)));
        Assert.Equal(start.AddMilliseconds(300), soon.WakeAt);

        _time.Advance(TimeSpan.FromMilliseconds(301));
        var round = _placement.AdmitWhatFits();

        var expired = Assert.Single(round.Ended);
        Assert.Equal("j0", expired.Ticket.JobId);
        Assert.Equal(JobStatus.Expired, expired.Outcome.Status);
        Assert.Equal(301, expired.Outcome.Usage.QueueMs);
        Assert.StartsWith("DEADLINE_EXCEEDED", expired.Outcome.Error, StringComparison.Ordinal);
        Assert.Equal([watcher], expired.Announcement.Watchers);
        Assert.Equal(JobEventKind.Expired, expired.Announcement.Event.Kind);
        Assert.Equal(start.AddMinutes(10), round.WakeAt);
        Assert.Equal(1, _placement.Snapshot().QueuedJobs);
        Assert.Equal(CancelOutcome.NotFound, _placement.Cancel("j0").Outcome);
    }

    [Fact]
    public void Requeue_JobHandedBackBeforeItsFirstToken_ExpiresAtItsDeadline_OneThatDeliveredTokensRunsOn()
    {
        // Two jobs due in 5 s run on the only replica; its node is lost, one after 3 tokens, the other before any.
        ReplicaWith(2);
        var deadline = _time.GetUtcNow().AddSeconds(5);
        _placement.Enqueue(Job("none", maxTokens: 10, deadline: deadline));
        _placement.Enqueue(Job("some", maxTokens: 10, deadline: deadline));
        _placement.Requeue("r", "link", [new RequeuedSequence("none", 0), new RequeuedSequence("some", 3)], HandBack.NodeLost);

        _time.Advance(TimeSpan.FromSeconds(5));
        var round = _placement.AdmitWhatFits();

        // The one whose client has nothing expires instead of running late; the other waits to finish its answer.
        var expired = Assert.Single(round.Ended);
        Assert.Equal(("none", JobStatus.Expired), (expired.Ticket.JobId, expired.Outcome.Status));
        Assert.EndsWith("expired in the queue after its replica handed it back before its first token", expired.Outcome.Error, StringComparison.Ordinal);
        Assert.Equal(new JobLocation(null, 0), _placement.Locate("some"));
    }

    [Fact]
    public void Enqueue_JobThatCanNoLongerMakeItsDeadline_ExpiresInsteadOfRunning()
    {
        ReplicaWith(8);

        // 2,000 output tokens take ~21 s even on an idle H100; it is due in 2 s.
        var (result, round) = _placement.Enqueue(Job("j0", maxTokens: 2_000, deadline: _time.GetUtcNow().AddSeconds(2)));

        Assert.Equal("j0", Assert.Single(round!.Ended).Ticket.JobId);
        Assert.Empty(round.Batches);
        Assert.Equal(0, result.QueuePosition);
        Assert.Null(_placement.Locate("j0"));
    }

    [Fact]
    public void Cancel_DecidesByWhereTheJobIs()
    {
        var watcher = new RecordingJobSink();
        ReplicaWith(1, "running");
        _placement.Enqueue(Job("queued", watchers: [watcher]));

        var queued = _placement.Cancel("queued");
        Assert.Equal(CancelOutcome.CancelledWhileQueued, queued.Outcome);
        Assert.Equal([watcher], queued.Ended!.Announcement.Watchers);
        Assert.Equal(JobEventKind.Cancelled, queued.Ended.Announcement.Event.Kind);
        Assert.Equal(("queued", JobStatus.Cancelled), (queued.Ended.Ticket.JobId, queued.Ended.Outcome.Status));
        Assert.Null(queued.StopOn);
        Assert.Equal(CancelOutcome.NotFound, _placement.Cancel("queued").Outcome);
        Assert.Equal(CancelOutcome.NotFound, _placement.Cancel("no-such-job").Outcome);

        // A running job is stopped by its node, which confirms with a finished sequence: it keeps its slot until then.
        var running = _placement.Cancel("running");
        Assert.Equal(CancelOutcome.CancellationRequested, running.Outcome);
        Assert.Equal(("n", "r"), running.StopOn);
        Assert.Null(running.Ended);
        Assert.Equal(["running"], ReplicaState("r").RunningJobIds);

        // Handed back by its lost node before the node confirmed, it ends cancelled instead of resuming elsewhere.
        var handedBack = _placement.Requeue("r", "link", [new RequeuedSequence("running", 3)], HandBack.NodeLost);
        var ended = Assert.Single(handedBack!.Ended);
        Assert.Equal(("running", JobStatus.Cancelled), (ended.Ticket.JobId, ended.Outcome.Status));
        Assert.Equal(CancelOutcome.NotFound, _placement.Cancel("running").Outcome);

        // One handed back before anyone cancelled it waits in the queue again, admitted once already.
        _placement.UpsertReplicas("link-2", [On("r", "n", maxSequences: 1)]);
        Enqueue("resumed");
        _placement.Requeue("r", "link-2", [new RequeuedSequence("resumed", 2)], HandBack.NodeLost);
        Assert.Equal(CancelOutcome.CancelledWhileRequeued, _placement.Cancel("resumed").Outcome);
    }

    [Fact]
    public void Watch_AddsTheWatcherOnce_AndLocateSaysWhereTheJobIs()
    {
        var watcher = new RecordingJobSink();
        ReplicaWith(1, "j0", "j1");

        Assert.Null(_placement.Watch("no-such-job", watcher));
        _placement.Watch("j1", watcher);
        Assert.Equal([watcher], _placement.Watch("j1", watcher)!.Watchers);
        Assert.Equal(new JobLocation("n", 0), _placement.Locate("j0"));
        Assert.Equal(new JobLocation(null, 0), _placement.Locate("j1"));

        // A re-dispatch keeps the watcher.
        _placement.OnProgress("r", ["j0"], [new FinishedSequence("j0", 100, FinishReason.Length)]);
        var round = _placement.Requeue("r", "link", [new RequeuedSequence("j1", 2)], HandBack.StreamClosed);
        Assert.Null(_placement.Locate("j0"));
        Assert.Equal([watcher], Assert.Single(Assert.Single(round!.Batches).Sequences).Ticket.Watchers);
    }

    /// <summary>A rebuild after a failover as its grain runs it: replicas, the plan's jobs in pages of
    /// <paramref name="pageSize"/>, then a round.</summary>
    private static AdmissionRound Recover(ModelPlacement placement, RecoveryPlan plan, int pageSize = IJobJournal.PageSize)
    {
        placement.RestoreReplicas(plan.LiveReplicas);
        foreach (var page in plan.Jobs.Chunk(pageSize))
        {
            placement.RestoreJobs(page);
        }

        return placement.EndRecovery();
    }

    [Fact]
    public void Recover_InPages_QueuesEveryJobWhereOneGoQueuesIt()
    {
        // Three tenants, two classes, a deadline, a job that ran before: the fair order must not depend on where the
        // grain's pages split the plan.
        RecoveredJob Recovered(string jobId, string tenant, JobPriority priority = JobPriority.Standard, bool ran = false, DateTimeOffset? deadline = null) =>
            new(Ticket(jobId, tenant, Model, priority: priority, deadline: deadline) with { SubmittedAt = _time.GetUtcNow() }, ran, null);
        var far = _time.GetUtcNow().AddHours(1);
        RecoveredJob[] jobs =
        [
            Recovered("a1", "a"), Recovered("a2", "a"), Recovered("b1", "b", ran: true), Recovered("c1", "c", JobPriority.Critical),
            Recovered("b2", "b", deadline: far), Recovered("a3", "a", JobPriority.Critical), Recovered("c2", "c"), Recovered("b3", "b"),
        ];
        var persisted = new PlacementState();
        persisted.Replicas["r"] = On("r", "n", maxSequences: 1);
        var plan = new RecoveryPlan([], jobs);

        // Each job's queue position, then the order a replica with room for all takes them in.
        (int[] Positions, string[] Admitted) Rebuilt(int pageSize)
        {
            var placement = new ModelPlacement(Model, new PlacementState { Replicas = { ["r"] = persisted.Replicas["r"] } }, new PlacementOptions(), _time, NullLogger.Instance);
            Assert.Empty(Recover(placement, plan, pageSize).Batches);
            int[] positions = [.. jobs.Select(j => placement.Locate(j.Ticket.JobId)!.QueuePosition)];
            placement.UpsertReplicas("link", [On("r", "n", maxSequences: jobs.Length)]);
            return (positions, [.. AdmittedIds(placement.AdmitWhatFits())]);
        }

        var inOneGo = Rebuilt(jobs.Length);
        // Critical first (equal counters: the first tenant queued), then the lowest counter, a deadline before none.
        Assert.Equal(["a3", "c1", "b2", "a1", "b1", "c2", "a2", "b3"], inOneGo.Admitted);
        foreach (var pageSize in new[] { 1, 3 })
        {
            var inPages = Rebuilt(pageSize);
            Assert.Equal(inOneGo.Positions, inPages.Positions);
            Assert.Equal(inOneGo.Admitted, inPages.Admitted);
        }
    }

    [Fact]
    public void Recover_ResumedJobsKeepTheirPlace_OthersQueueInPlanOrder_OnlyVouchedReplicasTakeWork()
    {
        _persisted.Replicas["ra"] = On("ra", "na", maxSequences: 3);
        _persisted.Replicas["rb"] = On("rb", "nb", maxSequences: 3);
        var plan = new RecoveryPlan(
            [new LiveReplica("ra", "link-a")],
            [
                new RecoveredJob(Job("running"), WasAdmitted: true, ResumeOn: "ra"),
                new RecoveredJob(Job("first"), WasAdmitted: false, ResumeOn: null),
                new RecoveredJob(Job("requeued"), WasAdmitted: true, ResumeOn: null),
                new RecoveredJob(Job("last"), WasAdmitted: false, ResumeOn: null),
            ]);

        var round = Recover(_placement, plan);

        var batch = Assert.Single(round.Batches);
        Assert.Equal("ra", batch.ReplicaId);
        Assert.Equal(["first", "requeued"], batch.Sequences.Select(s => s.Ticket.JobId));
        Assert.Equal(1, batch.Sequences[0].Placement.RunningSequencesAtAdmission);
        Assert.Equal(["first"], Assert.Single(round.AdmittedPerTenant).Value);
        Assert.Equal(["first", "requeued", "running"], ReplicaState("ra").RunningJobIds.Order());
        Assert.False(ReplicaState("rb").Schedulable);
        Assert.Equal(new JobLocation(null, 0), _placement.Locate("last"));

        // The live stream is the replica's: its reports count, another's do not.
        Assert.Null(_placement.Requeue("ra", "link-old", [new RequeuedSequence("running", 4)], HandBack.NodeLost));
        Assert.NotNull(_placement.Requeue("ra", "link-a", [new RequeuedSequence("running", 4)], HandBack.NodeLost));
    }

    [Fact]
    public void Explain_JobBehindAFullReplica_WaitedForASlot_ThenAdmittedWithTheClassItWeighed()
    {
        ReplicaWith(1, "first");
        Enqueue("second");
        _time.Advance(TimeSpan.FromSeconds(2));
        _placement.AdmitWhatFits();

        var (waiting, position) = _placement.Explain("second")!.Value;
        Assert.Equal(0, position);
        Assert.Equal([JobTraceKind.Queued, JobTraceKind.Waiting], waiting.Select(e => e.Kind));
        Assert.Equal(WaitReason.NoSlot, waiting[1].Reason);
        Assert.Equal(2, waiting[1].Count);

        var round = _placement.OnProgress("r", ["first"], [new FinishedSequence("first", 100, FinishReason.Length)])!;

        var trace = Assert.Single(Assert.Single(round.Batches).Sequences).Trace!;
        Assert.Equal([JobTraceKind.Queued, JobTraceKind.Waiting, JobTraceKind.Admitted], trace.Select(e => e.Kind));
        Assert.Equal("r", trace[2].Placement!.ReplicaId);
        var weighed = Assert.Single(trace[2].Candidates!);
        Assert.True(weighed.Chosen);
        Assert.Equal(1, weighed.ReplicasWeighed);
    }

    [Fact]
    public void Explain_EveryReplicaCordoned_SaysNoneWasSchedulable_NotThatTheyWereBusy()
    {
        // An outside probe cordoned every accelerator and was told its job waited for "no_slot", as if the fleet were
        // merely full: an operator then looks at running batches, not at the cordon.
        _placement.UpsertReplicas("link", [On("r1", "n1", maxSequences: 4), On("r2", "n2", maxSequences: 4)]);
        _placement.SetSchedulable("r1", false);
        _placement.SetSchedulable("r2", false);
        Enqueue("j0");
        _placement.AdmitWhatFits();

        var (waiting, _) = _placement.Explain("j0")!.Value;
        Assert.Equal(WaitReason.NoSchedulableReplica, waiting[^1].Reason);
        Assert.Contains("cordoned", waiting[^1].Detail, StringComparison.Ordinal);

        // One uncordoned but full: now the job waits for a slot.
        _placement.SetSchedulable("r1", true);
        Enqueue("j1");
        Enqueue("j2");
        Enqueue("j3");
        Enqueue("j4");
        _placement.AdmitWhatFits();
        var (later, _) = _placement.Explain("j4")!.Value;
        Assert.Equal(WaitReason.NoSlot, later[^1].Reason);
    }

    [Fact]
    public void Describe_ShowsAJobQueued_ThenRunningWhereItWasAdmitted_ThenCancelling_ThenNothingOnceItEnded()
    {
        Enqueue("j0");
        Assert.Equal((JobStatus.Queued, (JobPlacement?)null, false), Described("j0"));

        _placement.UpsertReplicas("link", [On("r", "n", maxSequences: 1)]);
        var admitted = Assert.Single(Assert.Single(_placement.AdmitWhatFits().Batches).Sequences);
        Assert.Equal((JobStatus.Running, admitted.Placement, false), Described("j0"));

        // Its node is asked to stop it; until it confirms, the job shows as cancelling.
        Assert.Equal(CancelOutcome.CancellationRequested, _placement.Cancel("j0").Outcome);
        Assert.Equal((JobStatus.Running, admitted.Placement, true), Described("j0"));

        _placement.OnProgress("r", [], [new FinishedSequence("j0", 3, FinishReason.Cancelled)]);
        Assert.Null(_placement.Describe("j0"));
    }

    [Fact]
    public void Enqueue_OfAJobThatJustFinishedHere_DoesNotQueueItAgain()
    {
        // A job the placement heard finish can still be journaled (its record's write refused by storage and retried,
        // or read there by a resubmission just before it settled): a resubmission with its idempotency key
        // (JobGrain.EnsureQueued) must not run it a second time.
        ReplicaWith(1, "j0");
        _placement.OnProgress("r", ["j0"], [new FinishedSequence("j0", 100, FinishReason.Length)]);

        var (result, round) = _placement.Enqueue(Job("j0"));

        Assert.Null(round);
        Assert.Equal(0, result.QueuePosition);
        Assert.Null(_placement.Describe("j0"));
        Assert.Empty(ReplicaState("r").RunningJobIds);
    }

    [Fact]
    public void Describe_AJobHandedBackByALostNode_IsQueuedOnNoReplicaUntilReadmitted_AndSaysFromWhereAndWhy()
    {
        _placement.UpsertReplicas("link", [On("r", "n", maxSequences: 1)]);
        var admitted = Assert.Single(AdmittedIds(Enqueue("j0")));
        Assert.Equal(JobStatus.Running, Described(admitted).Item1);

        // Its listing row and its explanation must agree: queued (position 0), on no replica — it was shown queued on
        // the lost one, which read as waiting for a node that was gone — and its ticket says where it ran and why it
        // came back (its hand-backs count only engine failures).
        _placement.Requeue("r", "link", [new RequeuedSequence("j0", 3)], HandBack.NodeLost);
        Assert.Equal((JobStatus.Queued, (JobPlacement?)null, false), Described("j0"));
        Assert.Equal(0, _placement.Explain("j0")!.Value.QueuePosition);
        var ticket = _placement.Describe("j0")!.Ticket;
        Assert.Equal((1, 0, 3), (ticket.Requeues, ticket.HandBacks, ticket.ResumeFromToken));
        Assert.Equal("from replica r (node n): its node was lost (stream broken or lease expired)", ticket.LastRequeue);

        _placement.UpsertReplicas("link-2", [On("r2", "n2", maxSequences: 1)]);
        var readmitted = Assert.Single(Assert.Single(_placement.AdmitWhatFits().Batches).Sequences);
        Assert.Equal((JobStatus.Running, "r2"), (Described("j0").Item1, Described("j0").Item2?.ReplicaId));

        // The admission carries the count to the job's record at its end.
        Assert.Equal(1, readmitted.Ticket.Requeues);
    }

    [Fact]
    public void NodesToWatch_ACordonedNodeRunningNothing_IsWatchedUntilFoundLost()
    {
        _placement.UpsertReplicas("link", [On("r1", "n", maxSequences: 1)]);
        _placement.SetSchedulable("r1", false);

        Assert.Contains("n", _placement.NodesToWatch());

        _placement.LoseLink("link");
        Assert.DoesNotContain("n", _placement.NodesToWatch());
    }

    [Fact]
    public void LoseLink_HandsBackEveryJobCountedUnderTheDeadStream_SwitchesItsReplicasOff_AndLeavesANewerStreamAlone()
    {
        // Node "n" has two replicas on stream "link"; node "m" registered after with one on "link-m".
        _placement.UpsertReplicas("link", [On("r1", "n", maxSequences: 1), On("r2", "n", maxSequences: 1)]);
        Enqueue("j0");
        Enqueue("j1");
        _placement.UpsertReplicas("link-m", [On("m1", "m", maxSequences: 2)]);
        Assert.Equal(["n"], _placement.NodesToWatch().Where(n => n == "n"));

        var round = _placement.LoseLink("link")!;

        // Both jobs go to the only replica left, from where their tickets say; nothing goes back to n's replicas.
        Assert.Equal(["j0", "j1"], AdmittedIds(round).Order());
        Assert.All(round.Batches, b => Assert.Equal("m1", b.ReplicaId));
        var snapshot = _placement.Snapshot();
        Assert.All(snapshot.Replicas.Where(r => r.NodeId == "n"), r => Assert.Equal((false, 0), (r.Schedulable, r.RunningSequences)));
        Assert.DoesNotContain("n", _placement.NodesToWatch());
        Assert.Contains(_placement.Explain("j0")!.Value.Events, e => e.Kind == JobTraceKind.HandedBack && e.Detail.Contains("lease lapsed", StringComparison.Ordinal));

        // The node registered anew meanwhile: a late loss of its old stream changes nothing.
        _placement.UpsertReplicas("link-n2", [On("r1", "n", maxSequences: 1), On("r2", "n", maxSequences: 1)]);
        Assert.Null(_placement.LoseLink("link"));
        Assert.All(_placement.Snapshot().Replicas, r => Assert.True(r.Schedulable));
    }

    [Fact]
    public void SetTenantWeight_AJobAcceptedBeforeTheChange_QueuedAfterIt_DoesNotSetTheOldWeightBack()
    {
        // One slot, taken. Tenant a was raised from 1 to 100 at t0 + 1 s; jobs of its accepted before that (their tickets
        // carry weight 1) reach the queue after, as jobs handed back or restored after a failover do.
        var t0 = _time.GetUtcNow();
        _placement.UpsertReplicas("link", [Replica("r", Model, "n", maxSequences: 1, kvCapacityTokens: 100_000)]);
        Assert.Equal(["running"], AdmittedIds(_placement.Enqueue(Job("running", "b")).Round!));
        for (var i = 0; i < 3; i++)
        {
            _placement.Enqueue(Job($"b-{i}", "b"));
        }

        _placement.SetTenantWeight("a", 100, t0 + TimeSpan.FromSeconds(1));
        _placement.Enqueue(Job("a-0", "a") with { SubmittedAt = t0 + TimeSpan.FromSeconds(2), TenantWeight = 100 });
        for (var i = 1; i < 4; i++)
        {
            _placement.Enqueue(Job($"a-{i}", "a"));
        }

        var order = new List<string>();
        var finishing = "running";
        for (var i = 0; i < 7; i++)
        {
            finishing = Assert.Single(AdmittedIds(_placement.OnProgress("r", [], [new FinishedSequence(finishing, 100, FinishReason.Length)])!));
            order.Add(finishing);
        }

        // At weight 100 a's four jobs go before b's second; set back to 1, they alternate with b's.
        Assert.True(order.FindLastIndex(id => id.StartsWith("a-", StringComparison.Ordinal)) <= 4, string.Join(", ", order));
    }

    private (JobStatus, JobPlacement?, bool) Described(string jobId) =>
        _placement.Describe(jobId) is { } live ? (live.Status, live.Placement, live.CancelRequested) : throw new InvalidOperationException($"{jobId} is not held");
}
