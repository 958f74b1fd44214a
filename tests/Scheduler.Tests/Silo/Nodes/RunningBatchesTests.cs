using Microsoft.Extensions.Logging;
using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Jobs;
using Scheduler.Abstractions.Placement;
using Scheduler.Policies.Profiles;
using Scheduler.Protos.V1;
using Scheduler.Silo.Nodes;
using static Scheduler.Tests.Grains.GrainTestKit;
using FinishReason = Scheduler.Abstractions.Jobs.FinishReason;
using JobStatus = Scheduler.Abstractions.Jobs.JobStatus;
using WireReason = Scheduler.Protos.V1.FinishReason;

namespace Scheduler.Tests.Silo.Nodes;

/// <summary>How a node's step reports become job events, progress, outcomes and hand-backs — no socket, no grain.</summary>
public sealed class RunningBatchesTests
{
    private const string Model = "m";
    private static readonly DateTimeOffset T0 = new(2026, 11, 26, 0, 0, 0, TimeSpan.Zero);

    // The sinks here are plain objects, not grain references: each gets its events by a direct call.
    private static readonly Action<IJobEventSink, JobEventRecord[]> Direct = (sink, events) => sink.OnEvents(events);

    private readonly RecordingLogger _logger = new();
    private readonly RecordingEventSink _silo = new();

    [Fact]
    public void Translate_TokensForJobOnAnotherReplica_AreIgnored()
    {
        var batches = Batches(Replica("r0", Model, "n", 8, 10_000), Replica("r1", Model, "n", 8, 10_000));
        Admit(batches, "r0", Ticket("j"));

        var crossed = batches.Translate(Step("r1", [Tokens("j", 0, "X")], [Finished("j", WireReason.Length, 1)]), At(200))!;
        Assert.Empty(crossed.Prefilled);
        Assert.Empty(crossed.Finished);
        Assert.Empty(crossed.Outcomes);
        crossed.Events.Send(Direct);
        Assert.Empty(_silo.Calls);

        var right = batches.Translate(Step("r0", [Tokens("j", 0, "y")], [Finished("j", WireReason.Length, 1)]), At(300))!;
        Assert.Equal("y", right.Outcomes.Single().Outcome.Output);
        Assert.Equal([new FinishedSequence("j", 1, FinishReason.Length)], right.Finished);
    }

    [Fact]
    public void Translate_FinishOfAJobResumedWithEveryTokenDelivered_IsItsWholeOutcome()
    {
        // A job handed back after its last token but before its finish resumes at max_tokens: its engine finishes it
        // with no token (RunningBatch.Screen), and its outcome still holds the whole text an earlier run delivered.
        var batches = Batches(Replica("r0", Model, "n", 8, 10_000));
        Admit(batches, "r0", Ticket("j", maxTokens: 3) with { ResumeFromToken = 3, Delivered = new DeliveredOutput("abc", [1, 2, 3]) });

        var step = batches.Translate(Step("r0", finished: [Finished("j", WireReason.Length, 3)]), At(200))!;

        var job = Assert.Single(step.Outcomes);
        Assert.Equal((JobStatus.Completed, "abc", 3), (job.Outcome.Status, job.Outcome.Output, job.Outcome.Usage.CompletionTokens));
        Assert.Equal([1, 2, 3], job.Outcome.TokenEnds);
        Assert.Equal([new FinishedSequence("j", 3, FinishReason.Length)], step.Finished);
    }

    [Fact]
    public void Admit_JobAlreadyRunningOnTheReplica_KeepsItsRun_SoItsTokensAndEndStayWhole()
    {
        // A placement rebuilt after its silo drained may dispatch a job again to the replica already running it (the
        // first admission was still on its way when the rebuilt placement asked the node what it runs). The engine
        // ignores the repeat and goes on with its run (RunningBatch.Screen); the link replaced its run by a fresh one
        // from token 0, dropped every later token as a gap, and completed the job with the tokens of none: its client
        // got the end short of max_tokens (SiloSigtermUnderLoad fault test: "13 jobs streamed the wrong number of tokens").
        var late = new RecordingEventSink();
        var batches = Batches(Replica("r0", Model, "n", 8, 10_000));
        Admit(batches, "r0", Ticket("j", maxTokens: 4));
        batches.Translate(Step("r0", [Tokens("j", 0, "a"), Tokens("j", 1, "b")]), At(100))!.Events.Send(Direct);

        var again = batches.Admit([Admitted("r0", Ticket("j", maxTokens: 4, watchers: [_silo, late]))], At(150))!;
        again.Events.Send(Direct);
        var rest = batches.Translate(Step("r0", [Tokens("j", 2, "c"), Tokens("j", 3, "d")], [Finished("j", WireReason.Length, 4)]), At(200))!;
        rest.Events.Send(Direct);

        var outcome = Assert.Single(rest.Outcomes).Outcome;
        Assert.Equal((JobStatus.Completed, "abcd", 4), (outcome.Status, outcome.Output, outcome.Usage.CompletionTokens));
        Assert.Equal([0, 1, 2, 3], _silo.Events.Where(e => e.Kind == JobEventKind.Tokens).Select(e => e.FirstTokenIndex));
        Assert.Equal([0, 1, 2, 3], late.Events.Where(e => e.Kind == JobEventKind.Tokens).Select(e => e.FirstTokenIndex));
        Assert.Equal([new FinishedSequence("j", 4, FinishReason.Length)], rest.Finished);
        Assert.Empty(again.Started);
        Assert.Empty(_logger.Entries);
    }

    [Fact]
    public void Translate_FinishWithMoreTokensThanTaken_IsLoggedWithBothCounts()
    {
        // Tokens the link dropped (here a gap) leave the job's end short of what its engine made: said in the log, so a
        // client's short count can be traced to its node link.
        var batches = Batches(Replica("r0", Model, "n", 8, 10_000));
        Admit(batches, "r0", Ticket("j", maxTokens: 3));

        batches.Translate(Step("r0", [Tokens("j", 0, "a"), Tokens("j", 2, "c")], [Finished("j", WireReason.Length, 3)]), At(200));

        var (level, message) = Assert.Single(_logger.Entries);
        Assert.Equal(LogLevel.Warning, level);
        Assert.Equal("Node n finished job j at 3 tokens, of which this link took 1: its clients get its end with 1", message);
    }

    [Fact]
    public void Translate_EvictedPrefixBlocks_AreProgressForThePlacement_EvenInAStepWithNothingElse()
    {
        var batches = Batches(Replica("r0", Model, "n", 8, 10_000));
        var report = Step("r0");
        report.EvictedPrefixBlocks.Add([7UL, 3UL]);

        var step = batches.Translate(report, At(200))!;

        Assert.Equal([7UL, 3UL], step.EvictedPrefixBlocks);
        Assert.True(step.HasProgress);
        Assert.False(batches.Translate(Step("r0"), At(300))!.HasProgress);
    }

    [Fact]
    public void Translate_StepOfAReplicaNotOnTheNode_IsNull()
    {
        var batches = Batches(Replica("r0", Model, "n", 8, 10_000));
        Admit(batches, "r0", Ticket("j"));

        Assert.Null(batches.Translate(Step("elsewhere", [Tokens("j", 0, "X")]), At(200)));
    }

    [Fact]
    public void Translate_RepeatedGappedOrExcessTokenIndexes_AreDropped()
    {
        var batches = Batches(Replica("r0", Model, "n", 8, 10_000));
        Admit(batches, "r0", Ticket("j", maxTokens: 3));

        var first = batches.Translate(Step("r0", [Tokens("j", 0, "a"), Tokens("j", 0, "X"), Tokens("j", 2, "X"), Tokens("j", 1, "b")]), At(200))!;
        var second = batches.Translate(Step("r0", [Tokens("j", 1, "X"), Tokens("j", -1, "X"), Tokens("j", 2, "X", count: 2), Tokens("j", 2, "c")]), At(300))!;
        var past = batches.Translate(Step("r0", [Tokens("j", 3, "X")], [Finished("j", WireReason.Length, 3)]), At(400))!;

        first.Events.Send(Direct);
        second.Events.Send(Direct);
        past.Events.Send(Direct);
        var tokens = _silo.Events.Where(e => e.Kind == JobEventKind.Tokens).ToArray();
        Assert.Equal([0, 1, 2], tokens.Select(e => e.FirstTokenIndex));
        Assert.Equal("abc", string.Concat(tokens.Select(e => e.Text)));
        Assert.Equal(["j"], first.Prefilled);
        Assert.Empty(second.Prefilled);
        var outcome = past.Outcomes.Single().Outcome;
        Assert.Equal("abc", outcome.Output);
        Assert.Equal([1, 2, 3], outcome.TokenEnds);
        Assert.Equal(3, outcome.Usage.CompletionTokens);
    }

    [Fact]
    public void Translate_FinishedSequence_GivesItsOutcomeWithUsage_AndLeavesTheBatch()
    {
        var batches = Batches(Replica("r0", Model, "n", 8, 10_000));
        Admit(batches, "r0", At(100), Ticket("j", prompt: 40));
        batches.Translate(Step("r0", [Tokens("j", 0, "a")]), At(300));

        var step = batches.Translate(Step("r0", [Tokens("j", 1, "b")], [Finished("j", WireReason.Length, 2)]), At(500))!;

        var job = step.Outcomes.Single();
        Assert.Equal("j", job.Ticket.JobId);
        Assert.Equal([_silo], job.Watchers);
        Assert.Equal(JobStatus.Completed, job.Outcome.Status);
        Assert.Equal(JobFinishReasons.Length, job.Outcome.FinishReason);
        Assert.Null(job.Outcome.Error);
        Assert.Equal("ab", job.Outcome.Output);
        var usage = job.Outcome.Usage;
        Assert.Equal((40, 2), (usage.PromptTokens, usage.CompletionTokens));
        Assert.Equal((100.0, 300.0, 500.0), (usage.QueueMs, usage.TtftMs, usage.TotalMs));
        Assert.Equal([new FinishedSequence("j", 2, FinishReason.Length)], step.Finished);

        // The placement hears the finish once the record took it (the node link does that), not with the step's progress.
        Assert.False(step.HasProgress);
        Assert.Empty(batches.Running(Model));

        // The end goes to the watchers only after the record took it (the node link does that): not in the step's events.
        step.Events.Send(Direct);
        Assert.DoesNotContain(_silo.Events, e => e.IsTerminal);

        // A repeated finish finds nothing left to finish.
        var again = batches.Translate(Step("r0", finished: [Finished("j", WireReason.Stop, 9)]), At(600))!;
        Assert.Empty(again.Outcomes);
        Assert.False(again.HasProgress);
    }

    [Fact]
    public void Translate_ResumedJob_MeasuresQueueAndTtftToItsFirstRun_NotToTheResumedOne()
    {
        // Its first run was admitted at 100 ms and delivered "a" at 140 ms; its node died, and it resumes at 4 s.
        var batches = Batches(Replica("r0", Model, "n", 8, 10_000));
        var resumed = Ticket("j") with
        {
            ResumeFromToken = 1, Delivered = new DeliveredOutput("a", [1]), FirstAdmittedAt = At(100), FirstTokenAt = At(140),
        };
        Admit(batches, "r0", At(4_000), resumed);

        var step = batches.Translate(Step("r0", [Tokens("j", 1, "b")], [Finished("j", WireReason.Length, 2)]), At(4_300))!;

        var usage = step.Outcomes.Single().Outcome.Usage;
        Assert.Equal((100.0, 140.0, 4_300.0), (usage.QueueMs, usage.TtftMs, usage.TotalMs));
        Assert.Equal("ab", step.Outcomes.Single().Outcome.Output);
    }

    [Fact]
    public void Translate_JobHandedBackBeforeItsFirstToken_TakesItsFirstTokenFromTheRunThatDeliveredIt()
    {
        var batches = Batches(Replica("r0", Model, "n", 8, 10_000));
        Admit(batches, "r0", At(2_000), Ticket("j") with { FirstAdmittedAt = At(100) });
        batches.Translate(Step("r0", [Tokens("j", 0, "a")]), At(2_250));

        var step = batches.Translate(Step("r0", finished: [Finished("j", WireReason.Stop, 1)]), At(2_300))!;

        var usage = step.Outcomes.Single().Outcome.Usage;
        Assert.Equal((100.0, 2_250.0), (usage.QueueMs, usage.TtftMs));
    }

    [Theory]
    [InlineData(WireReason.Length, JobStatus.Completed, JobFinishReasons.Length)]
    [InlineData(WireReason.Stop, JobStatus.Completed, JobFinishReasons.Stop)]
    [InlineData(WireReason.Cancelled, JobStatus.Cancelled, JobFinishReasons.Cancelled)]
    public void Translate_KnownFinishReason_GivesItsStatusAndTheTenantsReason(WireReason reason, JobStatus status, string finishReason)
    {
        var batches = Batches(Replica("r0", Model, "n", 8, 10_000));
        Admit(batches, "r0", Ticket("j"));

        var outcome = batches.Translate(Step("r0", finished: [Finished("j", reason, 0)]), At(200))!.Outcomes.Single().Outcome;

        Assert.Equal((status, finishReason, (string?)null), (outcome.Status, outcome.FinishReason, outcome.Error));
        Assert.Empty(_logger.Entries);
    }

    [Theory]
    [InlineData("length", JobStatus.Completed, JobFinishReasons.Length)]
    [InlineData("stop", JobStatus.Completed, JobFinishReasons.Stop)]
    [InlineData("cancelled", JobStatus.Cancelled, JobFinishReasons.Cancelled)]
    public void Translate_ReasonAsTextFromANodeBeforeTheEnum_IsRead(string text, JobStatus status, string finishReason)
    {
        var batches = Batches(Replica("r0", Model, "n", 8, 10_000));
        Admit(batches, "r0", Ticket("j"));
        var finished = Finished("j", WireReason.Unspecified, 0);
#pragma warning disable CS0612 // the field an earlier node version fills
        finished.LegacyReason = text;
#pragma warning restore CS0612

        var outcome = batches.Translate(Step("r0", finished: [finished]), At(200))!.Outcomes.Single().Outcome;

        Assert.Equal((status, finishReason, (string?)null), (outcome.Status, outcome.FinishReason, outcome.Error));
        Assert.Empty(_logger.Entries);
    }

    [Fact]
    public void Translate_UnspecifiedOrUnknownFinishReason_FailsTheJob_AndIsLoggedOnce()
    {
        var batches = Batches(Replica("r0", Model, "n", 8, 10_000));
        Admit(batches, "r0", Ticket("a"), Ticket("b"), Ticket("c"));

        var step = batches.Translate(Step("r0", [Tokens("a", 0, "x")], [Finished("a", WireReason.Unspecified, 1), Finished("b", (WireReason)42, 0)]), At(200))!;
        var later = batches.Translate(Step("r0", finished: [Finished("c", (WireReason)43, 0)]), At(300))!;

        var outcomes = step.Outcomes.Concat(later.Outcomes).Select(o => o.Outcome).ToArray();
        Assert.All(outcomes, o => Assert.Equal((JobStatus.Failed, JobFinishReasons.Error), (o.Status, o.FinishReason)));
        Assert.Equal(
            ["the node reported an unknown finish reason 'Unspecified'", "the node reported an unknown finish reason '42'", "the node reported an unknown finish reason '43'"],
            outcomes.Select(o => o.Error));
        Assert.Equal("x", outcomes[0].Output);

        // The placement still frees their reservations.
        Assert.Equal([FinishReason.Unknown, FinishReason.Unknown], step.Finished.Select(f => f.Reason));
        Assert.Equal(LogLevel.Warning, _logger.Entries.Single().Level);
        Assert.Contains("Unspecified", _logger.Entries.Single().Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Translate_SequenceTheEngineRefused_IsHandedBack_NotFinished()
    {
        var batches = Batches(Replica("r0", Model, "n", 8, 10_000));
        Admit(batches, "r0", Ticket("j"));

        var step = batches.Translate(Step("r0", finished: [Finished("j", WireReason.Rejected, 0)]), At(200))!;

        var refused = Assert.Single(step.Refused);
        Assert.Equal(("j", 0, "", null), (refused.JobId, refused.DeliveredTokens, refused.Output!.Text, refused.Error));
        Assert.Empty(step.Outcomes);
        Assert.False(step.HasProgress);
        Assert.Empty(batches.Running(Model));
        step.Events.Send(Direct);
        Assert.Empty(_silo.Calls);
    }

    [Fact]
    public void Translate_SequenceTheEngineFailed_IsHandedBack_WithTheEnginesError()
    {
        var batches = Batches(Replica("r0", Model, "n", 8, 10_000));
        Admit(batches, "r0", Ticket("j"));
        var failed = Finished("j", WireReason.Rejected, 0);
        failed.Error = "upstream http://vllm:8000/v1/completions answered 502 Bad Gateway: no healthy upstream";

        var step = batches.Translate(Step("r0", finished: [failed]), At(200))!;

        var refused = Assert.Single(step.Refused);
        Assert.Equal(("j", failed.Error), (refused.JobId, refused.Error));
        Assert.Empty(step.Outcomes);
    }

    [Fact]
    public void Translate_SequenceTheEngineCanNeverRun_FailsWithTheEnginesMessage_AndIsNotHandedBack()
    {
        var batches = Batches(Replica("r0", Model, "n", 8, 10_000));
        Admit(batches, "r0", Ticket("j"));
        var error = Finished("j", WireReason.Error, 0);
        error.Error = "prompt token id 70000 is outside the model's vocabulary of 32,000";

        var step = batches.Translate(Step("r0", finished: [error]), At(200))!;

        var job = step.Outcomes.Single();
        Assert.Equal((JobStatus.Failed, JobFinishReasons.Error), (job.Outcome.Status, job.Outcome.FinishReason));
        Assert.Equal("the engine could not run the job: prompt token id 70000 is outside the model's vocabulary of 32,000", job.Outcome.Error);
        Assert.Equal([_silo], job.Watchers);

        // The placement frees its reservation and queues nothing again.
        Assert.Equal([new FinishedSequence("j", 0, FinishReason.Error)], step.Finished);
        Assert.Empty(step.Refused);
        Assert.Empty(batches.Running(Model));
        Assert.Empty(_logger.Entries);
    }

    [Fact]
    public void Translate_HourlyPrice_SharesEachStepAmongTheSequencesThatProducedATokenInIt()
    {
        var h100 = AcceleratorProfiles.H100;
        var batches = Batches(Replica("r0", Model, "n", 8, 10_000, h100));
        Admit(batches, "r0", Ticket("a", maxTokens: 2), Ticket("b", maxTokens: 2));

        // One second shared by two, then one second for "a" alone; a node's nonsense step time costs nothing.
        batches.Translate(Step("r0", [Tokens("a", 0, "x"), Tokens("b", 0, "x")], stepMs: 1_000), At(1_000));
        batches.Translate(Step("r0", [Tokens("b", 1, "y")], stepMs: double.NaN), At(1_500));
        var step = batches.Translate(Step("r0", [Tokens("a", 1, "y")], [Finished("a", WireReason.Length, 2), Finished("b", WireReason.Length, 2)], stepMs: 1_000), At(2_000))!;

        var cost = step.Outcomes.ToDictionary(o => o.Ticket.JobId, o => o.Outcome.Usage.CostUsd);
        var second = h100.PricePerHourUsd / 3600;
        Assert.Equal((second / 2) + second, cost["a"], 12);
        Assert.Equal(second / 2, cost["b"], 12);
    }

    [Fact]
    public void Translate_MeteredPrice_ChargesThePromptAndTheTokensGeneratedInThisRun()
    {
        var lpu = AcceleratorProfiles.Lpu;
        var batches = Batches(Replica("r0", Model, "n", 8, 10_000, lpu));
        var resumed = Ticket("resumed", prompt: 1_000, maxTokens: 3) with { ResumeFromToken = 1, Delivered = new DeliveredOutput("a", [1]) };
        Admit(batches, "r0", Ticket("fresh", prompt: 1_000, maxTokens: 2), resumed);

        var step = batches.Translate(
            Step(
                "r0",
                [Tokens("fresh", 0, "x"), Tokens("fresh", 1, "y"), Tokens("resumed", 1, "b"), Tokens("resumed", 2, "c")],
                [Finished("fresh", WireReason.Length, 2), Finished("resumed", WireReason.Length, 3)],
                stepMs: 3_600_000),
            At(200))!;

        var usage = step.Outcomes.ToDictionary(o => o.Ticket.JobId, o => o.Outcome);
        Assert.Equal(((1_000 * 0.05) + (2 * 0.08)) / 1_000_000, usage["fresh"].Usage.CostUsd, 15);
        Assert.Equal(((1_000 * 0.05) + (2 * 0.08)) / 1_000_000, usage["resumed"].Usage.CostUsd, 15);
        Assert.Equal(3, usage["resumed"].Usage.CompletionTokens);
        Assert.Equal("abc", usage["resumed"].Output);
    }

    [Fact]
    public void Translate_PromptCountedByTheEngine_IsTheUsage_UnlessNoPromptCouldBeThatLong()
    {
        var batches = Batches(Replica("r0", Model, "n", 8, 10_000, AcceleratorProfiles.Lpu));
        Admit(batches, "r0", Ticket("counted", prompt: 1_000, maxTokens: 1), Ticket("implausible", prompt: 1_000, maxTokens: 1));
        var counted = Finished("counted", WireReason.Length, 1);
        counted.PromptTokens = 1_200;
        var implausible = Finished("implausible", WireReason.Length, 1);
        implausible.PromptTokens = 9_000;

        var step = batches.Translate(Step("r0", [Tokens("counted", 0, "x"), Tokens("implausible", 0, "y")], [counted, implausible]), At(200))!;

        // The model's tokenizer counted 1,200 where the scheduler's counted 1,000; 9,000 exceeds the replica's context.
        var usage = step.Outcomes.ToDictionary(o => o.Ticket.JobId, o => o.Outcome.Usage);
        Assert.Equal(1_200, usage["counted"].PromptTokens);
        Assert.Equal(((1_200 * 0.05) + 0.08) / 1_000_000, usage["counted"].CostUsd, 15);
        Assert.Equal(1_000, usage["implausible"].PromptTokens);

        // Which count the usage holds is said (schedctl marks the scheduler's estimate).
        Assert.Equal(PromptTokenSource.Engine, usage["counted"].PromptTokensSource);
        Assert.Equal(PromptTokenSource.SchedulerEstimate, usage["implausible"].PromptTokensSource);
    }

    [Fact]
    public void Translate_EventsOfAStep_GoToEachWatchingSiloInOneCall()
    {
        var other = new RecordingEventSink();
        var batches = Batches(Replica("r0", Model, "n", 8, 10_000));
        Admit(batches, "r0", Ticket("a"), Ticket("b", watchers: [_silo, other]), Ticket("c", watchers: [other, other]));

        var step = batches.Translate(Step("r0", [Tokens("a", 0, "x"), Tokens("b", 0, "y"), Tokens("c", 0, "z")]), At(200))!;
        step.Events.Send(Direct);

        Assert.Equal(["a", "b"], _silo.Calls.Single().Select(e => e.JobId));
        Assert.Equal(["b", "c"], other.Calls.Single().Select(e => e.JobId));
    }

    [Fact]
    public void Translate_Capacity_IsReportedAtMostEveryQuarterSecondWhileRunning_AndAlwaysWhenIdle()
    {
        var batches = Batches(Replica("r0", Model, "n", 8, 10_000));
        static StepReport Busy(int running) => new() { ReplicaId = "r0", Capacity = new ReplicaCapacity { RunningSequences = running, KvTokensUsed = 7 } };

        var first = batches.Translate(Busy(3), At(0))!.Capacity;
        var soon = batches.Translate(Busy(3), At(100))!.Capacity;
        var idle = batches.Translate(Busy(0), At(150))!.Capacity;
        var later = batches.Translate(Busy(2), At(400))!.Capacity;
        var none = batches.Translate(new StepReport { ReplicaId = "r0" }, At(900))!.Capacity;

        Assert.Equal(new EngineCapacity(3, 7, 0, 0, 0, 0, At(0)), first);
        Assert.Null(soon);
        Assert.Equal(0, idle!.RunningSequences);
        Assert.Equal(2, later!.RunningSequences);
        Assert.Null(none);
    }

    [Fact]
    public void Translate_Capacity_CarriesTheEnginesDecodeCounters_OnlyWhenItCountsDecodeCalls()
    {
        var batches = Batches(Replica("r0", Model, "n", 8, 10_000));
        var counted = new ReplicaCapacity { DecodeCalls = 10, DecodeSequences = 35, PeakDecodeSequences = 4, DecodeTokens = 90, PeakDecodeTokens = 30 };

        var llama = batches.Translate(new StepReport { ReplicaId = "r0", Capacity = counted }, At(0))!.Capacity;
        var simulated = batches.Translate(new StepReport { ReplicaId = "r0", Capacity = new ReplicaCapacity() }, At(500))!.Capacity;

        Assert.Equal(new DecodeCounters(10, 35, 4, 90, 30), llama!.Decodes);
        Assert.Equal(3.5, llama.Decodes!.MeanSequences);
        Assert.Null(simulated!.Decodes);
    }

    [Fact]
    public void Attach_ReplaysTheAdmissionAndEachDeliveredToken_ToTheNewWatcherOnly()
    {
        var late = new RecordingEventSink();
        var batches = Batches(Replica("r0", Model, "n", 8, 10_000));
        Admit(batches, "r0", Ticket("j"));
        batches.Translate(Step("r0", [Tokens("j", 0, "a"), Tokens("j", 1, "b"), Tokens("j", 2, "c")]), At(200));

        batches.Attach("j", late, fromToken: 1, At(300))!.Send(Direct);

        Assert.Empty(_silo.Calls);
        var replay = late.Calls.Single();
        Assert.Equal(JobEventKind.Admitted, replay[0].Kind);
        Assert.Equal([(1, "b"), (2, "c")], replay.Skip(1).Select(e => (e.FirstTokenIndex, e.Text!)));
        Assert.Null(batches.Attach("nothing-here", late, 0, At(300)));
    }

    [Fact]
    public void Attach_ToAJobResumedWithItsEarlierOutput_ReplaysTheEarlierRunsTokensFromTheWatchersOwn()
    {
        // A client whose silo died with the job's node re-attaches from the tokens it got, fewer than the earlier run
        // delivered. Replayed only from where this run resumed, its stream held this run's tokens behind the gap until the
        // job ended and its record filled it: no token for the rest of the job.
        var late = new RecordingEventSink();
        var batches = Batches(Replica("r0", Model, "n", 8, 10_000));
        Admit(batches, "r0", Ticket("j", maxTokens: 4) with { ResumeFromToken = 2, Delivered = new DeliveredOutput("ab", [1, 2]) });
        batches.Translate(Step("r0", [Tokens("j", 2, "c")]), At(200));

        batches.Attach("j", late, fromToken: 1, At(300))!.Send(Direct);

        Assert.Equal([(1, "b"), (2, "c")], late.Calls.Single().Skip(1).Select(e => (e.FirstTokenIndex, e.Text!)));
    }

    [Fact]
    public void Admit_JobResumedWithItsEarlierOutput_SendsItsWatchersTheEarlierRunsTokensWithTheAdmission()
    {
        // A client re-attaching after a failover while its job waited to resume was told only the job's queue position:
        // the earlier run's tokens it lacked came from nowhere, and the resumed run's were held behind the gap until the
        // job ended and its record filled it.
        var batches = Batches(Replica("r0", Model, "n", 8, 10_000));
        var admitted = batches.Admit([Admitted("r0", Ticket("j", maxTokens: 4) with { ResumeFromToken = 2, Delivered = new DeliveredOutput("ab", [1, 2]) })], At(0))!;

        admitted.Events.Send(Direct);

        var events = _silo.Calls.Single();
        Assert.Equal(JobEventKind.Admitted, events[0].Kind);
        Assert.Equal([(0, "a"), (1, "b")], events.Skip(1).Select(e => (e.FirstTokenIndex, e.Text!)));
    }

    [Fact]
    public void Close_HandsBackEveryRunningJobByReplica_FromItsDeliveredTokens_AndTakesNoMore()
    {
        var batches = Batches(Replica("r0", Model, "n", 8, 10_000), Replica("r1", Model, "n", 8, 10_000));
        Admit(batches, "r0", Ticket("a"), Ticket("b"));
        Admit(batches, "r1", Ticket("c"));
        batches.Translate(Step("r0", [Tokens("a", 0, "x")]), At(200));

        var handBacks = batches.Close().OrderBy(h => h.ReplicaId).ToArray();

        Assert.Equal([("r0", Model), ("r1", Model)], handBacks.Select(h => (h.ReplicaId, h.Model)));
        Assert.Equal([("a", 1, "x"), ("b", 0, "")], handBacks[0].Sequences.Select(s => (s.JobId, s.DeliveredTokens, s.Output!.Text)));
        // Each carries when it was first admitted and first delivered a token, so its resumed run reports those.
        Assert.Equal([(At(0), At(200)), (At(0), null)], handBacks[0].Sequences.Select(s => (s.FirstAdmittedAt, s.FirstTokenAt)));
        Assert.Equal(["c"], handBacks[1].Sequences.Select(s => s.JobId));
        Assert.Null(batches.Admit([Admitted("r0", Ticket("d"))], At(300)));
        Assert.Empty(batches.Running(Model));
    }

    private static DateTimeOffset At(int ms) => T0.AddMilliseconds(ms);

    private RunningBatches Batches(params ReplicaRegistration[] replicas) => new(Node("n", replicas), _logger);

    private JobTicket Ticket(string jobId, int prompt = 10, int maxTokens = 10, IJobEventSink[]? watchers = null) =>
        new(jobId, "t", Request(Model, prompt, maxTokens), T0, watchers ?? [_silo], 1.0);

    private static AdmittedSequence Admitted(string replicaId, JobTicket ticket) =>
        new(ticket, new JobPlacement(replicaId, "acc-" + replicaId, "H100", "n", 0));

    private static void Admit(RunningBatches batches, string replicaId, params JobTicket[] tickets) =>
        Admit(batches, replicaId, At(0), tickets);

    private static void Admit(RunningBatches batches, string replicaId, DateTimeOffset at, params JobTicket[] tickets) =>
        Assert.NotNull(batches.Admit([.. tickets.Select(t => Admitted(replicaId, t))], at));

    private static StepReport Step(string replicaId, SequenceTokens[]? tokens = null, SequenceFinished[]? finished = null, double stepMs = 10)
    {
        var step = new StepReport { ReplicaId = replicaId, StepMs = stepMs };
        step.Tokens.Add(tokens ?? []);
        step.Finished.Add(finished ?? []);
        return step;
    }

    private static SequenceTokens Tokens(string sequenceId, int first, string text, int count = 1) =>
        new() { SequenceId = sequenceId, FirstTokenIndex = first, Text = text, TokenCount = count };

    private static SequenceFinished Finished(string sequenceId, WireReason reason, int completionTokens) =>
        new() { SequenceId = sequenceId, Reason = reason, CompletionTokens = completionTokens };
}
