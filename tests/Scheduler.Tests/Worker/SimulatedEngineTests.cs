using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Scheduler.Policies.Profiles;
using Scheduler.Protos.V1;
using Scheduler.Worker.Engines;
using static Scheduler.Tests.Worker.EngineRun;

namespace Scheduler.Tests.Worker;

public sealed class SimulatedEngineTests
{
    private readonly RecordingSink _sink = new();
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void Engine_NeverExceedsSlotsOrKv_RejectsOverAdmission()
    {
        // 3 slots, 1,000 KV tokens: "a" and "b" fit, "c" overflows the KV cache, "d" fits, "e" finds no slot.
        using var engine = Engine(AcceleratorProfiles.H100 with { MaxSequences = 3, KvCapacityTokens = 1_000 });
        engine.Admit([Sequence("a", 300, 100), Sequence("b", 200, 100), Sequence("c", 300, 100), Sequence("d", 50, 50), Sequence("e", 10, 10)]);

        var reports = ToCompletion(engine);

        var first = reports[0];
        Assert.Equal(["c", "e"], first.Finished.Where(f => f.Reason == FinishReason.Rejected).Select(f => f.SequenceId));
        Assert.Equal(3, first.Capacity.RunningSequences);
        Assert.Equal(800, first.Capacity.KvTokensUsed);
        Assert.Equal(200, first.Capacity.FreeKvTokens);
        Assert.All(reports, r =>
        {
            Assert.InRange(r.Capacity.RunningSequences, 0, 3);
            Assert.InRange(r.Capacity.KvTokensUsed, 0, 1_000);
            Assert.Equal(2, r.Capacity.RejectedAdmissions);
        });
        var last = reports[^1].Capacity;
        Assert.Equal(3, last.PeakSequences);
        Assert.Equal(800, last.PeakKvTokens);
        Assert.Equal(0, last.RunningSequences);
        Assert.Equal(3, last.FreeSequenceSlots);
        Assert.Equal(1_000, last.FreeKvTokens);
        Assert.Equal(100, SequenceOutcome.Of("a", reports).Finished!.CompletionTokens);
        Assert.Equal(50, SequenceOutcome.Of("d", reports).Finished!.CompletionTokens);
        Assert.Empty(SequenceOutcome.Of("c", reports).Tokens);

        // Room freed by finished sequences is usable again.
        engine.Admit([Sequence("f", 300, 100)]);
        Assert.Equal(FinishReason.Length, SequenceOutcome.Of("f", ToCompletion(engine)).Finished!.Reason);
    }

    [Fact]
    public void Engine_RunsSequenceToMaxTokens_WithContiguousIndexes()
    {
        using var engine = Engine(AcceleratorProfiles.A100);
        engine.Admit([Sequence("s", 100, 12)]);

        var outcome = SequenceOutcome.Of("s", ToCompletion(engine));

        Assert.Equal(Enumerable.Range(0, 12), outcome.Indexes);
        Assert.All(outcome.Tokens, t => Assert.StartsWith(" ", t.Text, StringComparison.Ordinal));
        Assert.Equal(new SequenceFinished { SequenceId = "s", Reason = FinishReason.Length, CompletionTokens = 12 }, outcome.Finished);
    }

    [Fact]
    public void Engine_ResumeFromToken_EmitsSameTextWithoutDuplicates()
    {
        using var first = Engine(AcceleratorProfiles.A100);
        first.Admit([Sequence("job-42", 64, 10)]);
        var full = SequenceOutcome.Of("job-42", ToCompletion(first));

        // Another engine (as on another node) resumes after 4 delivered tokens.
        var secondSink = new RecordingSink();
        using var second = Engine(AcceleratorProfiles.H100, secondSink);
        second.Admit([Sequence("job-42", 64, 10, resumeFrom: 4)]);
        var resumed = SequenceOutcome.Of("job-42", ToCompletion(second));

        Assert.Equal(Enumerable.Range(4, 6), resumed.Indexes);
        Assert.Equal(full.Tokens.Skip(4).Select(t => t.Text), resumed.Tokens.Select(t => t.Text));
        Assert.Equal(full.Text, string.Concat(full.Tokens.Take(4).Select(t => t.Text)) + resumed.Text);
        Assert.Equal(10, resumed.Finished!.CompletionTokens);
        Assert.Equal(FinishReason.Length, resumed.Finished.Reason);
    }

    [Fact]
    public void Engine_ResumeFromToken_PrefillsPromptAndDeliveredTokens()
    {
        var profile = AcceleratorProfiles.A100 with { StepTokenBudget = 100 };
        using var engine = Engine(profile);
        engine.Admit([Sequence("s", 150, 80, resumeFrom: 70)]);

        var reports = ToCompletion(engine);

        // 150 + 70 = 220 tokens to prefill: 100, 100, then 20 with the first resumed token.
        Assert.Equal([profile.StepMs(0, 100), profile.StepMs(0, 100), profile.StepMs(0, 20)], reports.Take(3).Select(r => r.StepMs));
        Assert.Equal(70, reports[2].Tokens.Single().FirstTokenIndex);
        Assert.Equal(80, SequenceOutcome.Of("s", reports).Finished!.CompletionTokens);
    }

    [Fact]
    public void Engine_ResumeAtMaxTokens_FinishesWithoutNewTokens()
    {
        using var engine = Engine(AcceleratorProfiles.A100);
        engine.Admit([Sequence("s", 10, 5, resumeFrom: 5)]);

        var outcome = SequenceOutcome.Of("s", ToCompletion(engine));

        Assert.Empty(outcome.Tokens);
        Assert.Equal(new SequenceFinished { SequenceId = "s", Reason = FinishReason.Length, CompletionTokens = 5 }, outcome.Finished);
    }

    [Fact]
    public void Engine_PrefillChunkedWithinStepBudget()
    {
        var profile = AcceleratorProfiles.L4 with { StepTokenBudget = 100 };
        using var engine = Engine(profile);
        engine.Admit([Sequence("short", 10, 50), Sequence("long", 250, 5)]);

        var reports = ToCompletion(engine);

        // Step 1: "short" prefills 10 and emits its first token, "long" gets the remaining 90 of the budget.
        // Steps 2, 3: "short" decodes one token, leaving 99 for "long": 99, then the last 61 and its first token.
        Assert.Equal(profile.StepMs(0, 100), reports[0].StepMs);
        Assert.Equal(profile.StepMs(1, 99), reports[1].StepMs);
        Assert.Equal(profile.StepMs(1, 61), reports[2].StepMs);
        Assert.Equal(profile.StepMs(2, 0), reports[3].StepMs);
        Assert.Equal(["short"], reports[0].Tokens.Select(t => t.SequenceId));
        Assert.Equal(["short"], reports[1].Tokens.Select(t => t.SequenceId));
        Assert.Equal(["short", "long"], reports[2].Tokens.Select(t => t.SequenceId));
        Assert.Equal(0, reports[2].Tokens[1].FirstTokenIndex);
        Assert.Equal(50, reports.Count);
        Assert.Equal(5, SequenceOutcome.Of("long", reports).Finished!.CompletionTokens);
        Assert.Equal(50, SequenceOutcome.Of("short", reports).Finished!.CompletionTokens);
    }

    [Fact]
    public void Engine_StopText_FinishesWithStop()
    {
        const string id = "stop-me";
        using var reference = Engine(AcceleratorProfiles.A100);
        reference.Admit([Sequence(id, 20, 30)]);
        var full = SequenceOutcome.Of(id, ToCompletion(reference));

        // A stop text spanning tokens 5 and 6; the run must end right after the token completing its first occurrence.
        var stop = full.Tokens[5].Text[^2..] + full.Tokens[6].Text[..3];
        var end = full.Text.IndexOf(stop, StringComparison.Ordinal) + stop.Length;
        var expectedTokens = 1 + full.Tokens.Select((t, i) => (i, End: full.Tokens.Take(i + 1).Sum(x => x.Text.Length))).First(x => x.End >= end).i;

        var otherSink = new RecordingSink();
        using var engine = Engine(AcceleratorProfiles.A100, otherSink);
        engine.Admit([Sequence(id, 20, 30, stop: stop)]);
        var outcome = SequenceOutcome.Of(id, ToCompletion(engine));

        Assert.Equal(new SequenceFinished { SequenceId = id, Reason = FinishReason.Stop, CompletionTokens = expectedTokens }, outcome.Finished);
        Assert.Equal(expectedTokens, outcome.Tokens.Count);
        Assert.Contains(stop, outcome.Text, StringComparison.Ordinal);

        // Resumed just before the completing token, the stop text still spans the resume point.
        var resumedSink = new RecordingSink();
        using var resumedEngine = Engine(AcceleratorProfiles.A100, resumedSink);
        resumedEngine.Admit([Sequence(id, 20, 30, resumeFrom: expectedTokens - 1, stop: stop)]);
        var resumed = SequenceOutcome.Of(id, ToCompletion(resumedEngine));
        Assert.Single(resumed.Tokens);
        Assert.Equal(FinishReason.Stop, resumed.Finished!.Reason);
        Assert.Equal(expectedTokens, resumed.Finished.CompletionTokens);
    }

    [Fact]
    public void Engine_StopSequences_EndAtTheFirstOfAnyStopText()
    {
        const string id = "several-stops";
        using var reference = Engine(AcceleratorProfiles.A100);
        reference.Admit([Sequence(id, 20, 30)]);
        var full = SequenceOutcome.Of(id, ToCompletion(reference));
        string[] stops = [full.Tokens[8].Text, full.Tokens[3].Text + full.Tokens[4].Text];
        var expectedTokens = Enumerable.Range(1, 30).First(n => stops.Any(s => string.Concat(full.Tokens.Take(n).Select(t => t.Text)).Contains(s, StringComparison.Ordinal)));

        var otherSink = new RecordingSink();
        using var engine = Engine(AcceleratorProfiles.A100, otherSink);
        var spec = Sequence(id, 20, 30);
        spec.StopSequences.Add(stops);
        engine.Admit([spec]);
        var outcome = SequenceOutcome.Of(id, ToCompletion(engine));

        Assert.InRange(expectedTokens, 1, 9);
        Assert.Equal(new SequenceFinished { SequenceId = id, Reason = FinishReason.Stop, CompletionTokens = expectedTokens }, outcome.Finished);
    }

    [Fact]
    public void Engine_JoinsNewSequencesBetweenSteps()
    {
        var profile = AcceleratorProfiles.H100;
        using var engine = Engine(profile);
        engine.Admit([Sequence("a", 100, 6)]);
        var early = new[] { engine.Step()!, engine.Step()! };

        engine.Admit([Sequence("b", 40, 3)]);
        var joined = engine.Step()!;
        var rest = ToCompletion(engine);

        Assert.Equal(profile.StepMs(1, 40), joined.StepMs);
        Assert.Equal(["a", "b"], joined.Tokens.Select(t => t.SequenceId));
        Assert.Equal(2, joined.Capacity.RunningSequences);
        var all = early.Append(joined).Concat(rest).ToList();
        Assert.Equal(Enumerable.Range(0, 6), SequenceOutcome.Of("a", all).Indexes);
        Assert.Equal(Enumerable.Range(0, 3), SequenceOutcome.Of("b", all).Indexes);

        // "b" leaves after its 3rd token (step 5) while "a" keeps decoding alone.
        Assert.Equal("b", all[4].Finished.Single().SequenceId);
        Assert.Equal(1, all[5].Capacity.RunningSequences + all[5].Finished.Count);
    }

    [Fact]
    public void Engine_Cancel_ReportsCancelledInNextStepAndFreesRoom()
    {
        using var engine = Engine(AcceleratorProfiles.H100 with { MaxSequences = 1 });
        engine.Admit([Sequence("a", 10, 100)]);
        engine.Step();
        engine.Step();

        engine.Cancel(["a", "unknown"], FinishReason.Cancelled);
        engine.Admit([Sequence("b", 10, 2)]);
        var next = engine.Step()!;

        Assert.Equal(new SequenceFinished { SequenceId = "a", Reason = FinishReason.Cancelled, CompletionTokens = 2 }, next.Finished.Single());
        Assert.Equal(["b"], next.Tokens.Select(t => t.SequenceId));
        Assert.Equal(0, next.Capacity.RejectedAdmissions);
    }

    [Fact]
    public void Engine_Preempt_ReportsPreemptedWithTheTokensSoFar_AndItsRoomTakesTheNextAdmission()
    {
        using var engine = Engine(AcceleratorProfiles.H100 with { MaxSequences = 1 });
        engine.Admit([Sequence("victim", 10, 100)]);
        engine.Step();
        engine.Step();

        // As the scheduler sends them: the stop, then the admission that takes its room.
        engine.Cancel(["victim"], FinishReason.Preempted);
        engine.Admit([Sequence("light", 10, 2)]);
        var next = engine.Step()!;

        Assert.Equal(new SequenceFinished { SequenceId = "victim", Reason = FinishReason.Preempted, CompletionTokens = 2 }, next.Finished.Single());
        Assert.Equal(["light"], next.Tokens.Select(t => t.SequenceId));
        Assert.Equal(0, next.Capacity.RejectedAdmissions);
    }

    [Fact]
    public async Task Engine_PreemptWhileAStepRuns_IsReportedWhenThatStepEnds_NotAStepLater()
    {
        using var engine = Engine(AcceleratorProfiles.L4);
        engine.Admit([Sequence("victim", 10, 100)]);
        using var stop = new CancellationTokenSource();

        // The loop runs synchronously up to its first wait: step 1 (the victim's prefill and first token) is planned
        // and waiting out its duration when the stop and the admission that takes the room arrive.
        var loop = engine.RunAsync(stop.Token);
        engine.Cancel(["victim"], FinishReason.Preempted);
        engine.Admit([Sequence("light", 10, 100)]);
        await AdvanceUntilAsync(() => _sink.Reports.Count == 1);

        // The step's report carries the victim's token, then its finish counting it: the scheduler queues it again
        // now, not once the next step (the light prompt's prefill) has run too.
        var first = _sink.Reports.Single();
        Assert.Equal(["victim"], first.Tokens.Select(t => t.SequenceId));
        Assert.Equal(new SequenceFinished { SequenceId = "victim", Reason = FinishReason.Preempted, CompletionTokens = 1 }, first.Finished.Single());
        Assert.Equal(1, first.Capacity.RunningSequences);
        await AdvanceUntilAsync(() => _sink.Reports.Count == 2);
        Assert.Equal(["light"], _sink.Reports.Last().Tokens.Select(t => t.SequenceId));
        Assert.Empty(_sink.Reports.Last().Finished);
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => loop);
    }

    [Fact]
    public async Task Engine_CancelAllSilently_DropsEvenTheStepUnderWay()
    {
        using var engine = Engine(AcceleratorProfiles.A100);
        engine.Admit([Sequence("old", 10, 100)]);
        using var stop = new CancellationTokenSource();

        // The loop runs synchronously up to its first wait: step 1 of "old" is planned and waiting out its duration.
        var loop = engine.RunAsync(stop.Token);
        engine.CancelAllSilently();
        engine.Admit([Sequence("new", 10, 2)]);
        await AdvanceUntilAsync(() => _sink.Reports.SelectMany(r => r.Finished).Any(f => f.SequenceId == "new"));

        Assert.DoesNotContain(_sink.Reports, r => r.Tokens.Any(t => t.SequenceId == "old") || r.Finished.Any(f => f.SequenceId == "old"));
        Assert.Equal(0, engine.RunningSequences);
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => loop);
    }

    [Fact]
    public async Task Engine_Loop_PacesStepsWithTheProfile()
    {
        var profile = AcceleratorProfiles.L4;
        using var engine = Engine(profile);
        using var stop = new CancellationTokenSource();
        var loop = engine.RunAsync(stop.Token);
        engine.Admit([Sequence("s", 100, 3)]);

        // Each report comes once its step's time has passed since the admission, not before: a prefill of
        // 100 tokens, then two decode steps (less the sub-millisecond part Task.Delay drops from each wait).
        var admitted = _time.GetUtcNow();
        await AdvanceUntilAsync(() => _sink.Reports.Count == 1);
        Assert.True(_time.GetUtcNow() - admitted >= TimeSpan.FromMilliseconds(Math.Floor(profile.StepMs(0, 100))));
        Assert.Single(_sink.Reports.Single().Tokens);
        await AdvanceUntilAsync(() => _sink.Reports.Count == 3);
        Assert.True(_time.GetUtcNow() - admitted >= TimeSpan.FromMilliseconds(Math.Floor(profile.StepMs(0, 100) + (2 * profile.StepMs(1, 0)))));
        Assert.Equal(FinishReason.Length, _sink.Reports.Last().Finished.Single().Reason);
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => loop);
    }

    [Fact]
    public async Task Engine_Instant_RunsToCompletionThenIdles()
    {
        using var engine = new SimulatedEngine("r", AcceleratorProfiles.H100.Accelerated(double.PositiveInfinity), _sink, TimeProvider.System, NullLogger<SimulatedEngine>.Instance);
        using var stop = new CancellationTokenSource();
        var loop = Task.Run(() => engine.RunAsync(stop.Token));

        engine.Admit([Sequence("a", 500, 200), Sequence("b", 5, 300)]);
        await _sink.WaitUntilAsync(r => r.Sum(x => x.Finished.Count) == 2, TimeSpan.FromSeconds(30));
        var steps = _sink.Reports.Count;

        // Idle: no more steps, and the loop waits for work rather than spinning.
        await Task.Delay(100);
        Assert.Equal(steps, _sink.Reports.Count);
        Assert.False(loop.IsCompleted);
        Assert.All(_sink.Reports, r => Assert.Equal(0, r.StepMs));

        engine.Admit([Sequence("c", 5, 1)]);
        await _sink.WaitUntilAsync(r => r.Any(x => x.Finished.Any(f => f.SequenceId == "c")), TimeSpan.FromSeconds(30));
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => loop);
    }

    [Fact]
    public void Engine_MeasuresOutputTokensPerSecond()
    {
        using var engine = Engine(AcceleratorProfiles.H100);
        engine.Admit([Sequence("a", 10, 1_000), Sequence("b", 10, 1_000), Sequence("c", 10, 1_000), Sequence("d", 10, 1_000)]);

        StepReport? report = null;
        for (var i = 0; i < 50; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(10));
            report = engine.Step();
        }

        // 4 tokens every 10 ms.
        Assert.Equal(400, report!.Capacity.OutputTokensPerSecond, precision: 6);
    }

    [Fact]
    public void SyntheticTokens_AreDeterministicPerSequenceAndIndex()
    {
        var seed = SyntheticTokens.Seed("job-1");

        Assert.Equal(SyntheticTokens.Token(seed, 7), SyntheticTokens.Token(SyntheticTokens.Seed("job-1"), 7));
        Assert.True(Enumerable.Range(0, 50).Select(i => SyntheticTokens.Token(seed, i)).Distinct().Count() > 10);
        Assert.NotEqual(
            Enumerable.Range(0, 20).Select(i => SyntheticTokens.Token(seed, i)),
            Enumerable.Range(0, 20).Select(i => SyntheticTokens.Token(SyntheticTokens.Seed("job-2"), i)));
    }

    /// <summary>Moves the fake clock forward a millisecond at a time, letting the engine's loop run in between,
    /// until <paramref name="done"/> holds (or fails after 10 s of real time).</summary>
    private async Task AdvanceUntilAsync(Func<bool> done)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!done())
        {
            Assert.True(DateTime.UtcNow < deadline, "The engine did not get there in time.");
            _time.Advance(TimeSpan.FromMilliseconds(1));
            await Task.Delay(1);
        }
    }

    private SimulatedEngine Engine(AcceleratorProfile profile, RecordingSink? sink = null) =>
        new("replica-0", profile, sink ?? _sink, _time, NullLogger<SimulatedEngine>.Instance);

    [Fact]
    public void Step_FillsPrefillBudgetInFairRankOrder_NotArrivalOrder()
    {
        // 100 prompt tokens a step: a flood's three long prompts arrive first, then a light tenant's short one ranked
        // with the flood's first (rank 0: it holds nothing on this replica). The light prompt prefills right after the
        // flood's first, ahead of the flood's later ones; equal ranks keep admission order.
        using var engine = Engine(AcceleratorProfiles.H100 with { StepTokenBudget = 100 });
        engine.Admit([Ranked("flood-1", 0), Ranked("flood-2", 1), Ranked("flood-3", 2), Ranked("light", 0, prompt: 100)]);

        var firstTokens = ToCompletion(engine).SelectMany(r => r.Tokens).Where(t => t.FirstTokenIndex == 0).Select(t => t.SequenceId);

        Assert.Equal(["flood-1", "light", "flood-2", "flood-3"], firstTokens);
    }

    [Fact]
    public void Step_ALightPromptsStepSkipsTheFloodsDecodes_WhichResumeTheStepAfter()
    {
        // Two flood sequences decode; a light prompt arrives: its step prefills it alone, the next decodes all three.
        var profile = AcceleratorProfiles.L4 with { StepTokenBudget = 100 };
        using var engine = Engine(profile);
        engine.Admit([Deferrable("flood-1"), Deferrable("flood-2")]);
        engine.Step();
        engine.Admit([Ranked("light", 0, prompt: 100)]);

        var lightStep = engine.Step()!;
        var next = engine.Step()!;

        Assert.Equal(["light"], lightStep.Tokens.Select(t => t.SequenceId));
        Assert.Equal(profile.StepMs(0, 100), lightStep.StepMs);
        Assert.Equal(["flood-1", "flood-2", "light"], next.Tokens.Select(t => t.SequenceId).Order());
        Assert.All(next.Tokens.Where(t => t.SequenceId != "light"), t => Assert.Equal(1, t.FirstTokenIndex));
    }

    [Fact]
    public void Step_CapsAnOverShareSequencesPrefill_WhileALightPromptIsPendingAndForTheWindowAfterItsJobLeft_ThenNot()
    {
        // 100 prompt tokens a step; the flood's prompt may take 30 of them while the replica is contended.
        var profile = AcceleratorProfiles.L4 with { StepTokenBudget = 100 };
        using var engine = Engine(profile);
        var flood = Ranked("flood", 0, prompt: 10_000);
        flood.ContendedPrefillTokens = 30;
        flood.ContendedPrefillWindowMs = 1_000;
        engine.Admit([flood, Ranked("light", 0, prompt: 70)]);

        var withLight = engine.Step()!;
        var lightsLast = engine.Step()!;
        _time.Advance(TimeSpan.FromMilliseconds(500));
        var afterItLeft = engine.Step()!;
        _time.Advance(TimeSpan.FromMilliseconds(999));
        var windowsEnd = engine.Step()!;
        _time.Advance(TimeSpan.FromMilliseconds(2));
        var afterWindow = engine.Step()!;

        // The light prompt takes the room the cap leaves; from when its job ends the flood stays capped for the window.
        Assert.Equal(["light"], withLight.Tokens.Select(t => t.SequenceId));
        Assert.Equal(profile.StepMs(0, 100), withLight.StepMs);
        Assert.Equal(profile.StepMs(1, 30), lightsLast.StepMs);
        Assert.Equal(["light"], lightsLast.Finished.Select(f => f.SequenceId));
        Assert.Equal(profile.StepMs(0, 30), afterItLeft.StepMs);
        Assert.Equal(profile.StepMs(0, 30), windowsEnd.StepMs);
        Assert.Equal(profile.StepMs(0, 100), afterWindow.StepMs);
    }

    [Fact]
    public async Task Loop_ALightPromptAdmittedDuringAFloodStep_EndsItAfterTheMicroBatchUnderWay_AndTheFloodKeepsItsPrefill()
    {
        // An L4 at 10x: a step of 1,024 flood prompt tokens takes about 23 ms, its first micro-batch of 256 about 10 ms.
        var profile = AcceleratorProfiles.L4.Accelerated(10);
        using var engine = new SimulatedEngine("replica-0", profile, _sink, _time, NullLogger<SimulatedEngine>.Instance, microBatchTokens: 256);
        engine.Admit([Ranked("flood", 5, prompt: 10_000)]);
        using var stop = new CancellationTokenSource();

        // The loop runs synchronously up to its first wait: the flood's first step is under way when the light prompt,
        // ranked ahead of it, is admitted 1 ms in.
        var loop = engine.RunAsync(stop.Token);
        var start = _time.GetUtcNow();
        _time.Advance(TimeSpan.FromMilliseconds(1));
        engine.Admit([Ranked("light", 1, prompt: 100)]);
        await AdvanceUntilAsync(() => _sink.Reports.Count == 1);
        var yielded = _time.GetUtcNow() - start;
        await AdvanceUntilAsync(() => _sink.Reports.Any(r => r.Tokens.Any(t => t.SequenceId == "light")));
        var lightFirst = _time.GetUtcNow() - start;
        await AdvanceUntilAsync(() => _sink.Reports.Any(r => r.Tokens.Any(t => t.SequenceId == "flood")));
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => loop);

        // The flood's step ended after its first micro-batch, not its fourth; the next prefilled the light prompt first.
        var reports = _sink.Reports.ToList();
        Assert.Equal(profile.StepMs(0, 256), reports[0].StepMs);
        Assert.True(yielded < TimeSpan.FromMilliseconds(profile.StepMs(0, 1_024)), $"the flood step ran whole: {yielded.TotalMilliseconds} ms");
        Assert.Equal(["light"], reports[1].Tokens.Select(t => t.SequenceId));
        Assert.Equal(profile.StepMs(0, 1_024), reports[1].StepMs);
        Assert.True(lightFirst <= TimeSpan.FromMilliseconds(profile.StepMs(0, 256) + profile.StepMs(0, 1_024) + 2), $"light's first token after {lightFirst.TotalMilliseconds} ms");

        // The flood's 256 tokens of the short step counted, no more, no less: 256 + 924 (beside the light prompt) + 1,023
        // (beside its last decode) + 7 x 1,024, and its first token comes with the last 629.
        var floodFirst = reports.Single(r => r.Tokens.Any(t => t.SequenceId == "flood"));
        Assert.Equal(profile.StepMs(0, 629), floodFirst.StepMs);
        Assert.Equal(11, reports.IndexOf(floodFirst) + 1);
    }

    [Fact]
    public async Task Loop_AStepEndedEarly_KeepsItsDecodes_AndTheNextStepDecodesTheNextToken()
    {
        // A chat sequence decodes beside the flood's prefill; the light prompt ends the step after its first micro-batch,
        // which carried the chat's decode: its token is in that step's report, and the next step decodes the one after.
        var profile = AcceleratorProfiles.L4.Accelerated(10);
        using var engine = new SimulatedEngine("replica-0", profile, _sink, _time, NullLogger<SimulatedEngine>.Instance, microBatchTokens: 256);
        var chat = Ranked("chat", 0, prompt: 10);
        chat.MaxTokens = 100;
        engine.Admit([chat, Ranked("flood", 5, prompt: 10_000)]);
        engine.Step();
        using var stop = new CancellationTokenSource();

        var loop = engine.RunAsync(stop.Token);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        engine.Admit([Ranked("light", 1, prompt: 100)]);
        await AdvanceUntilAsync(() => _sink.Reports.Count == 3);
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => loop);

        var reports = _sink.Reports.Skip(1).ToList();
        Assert.Equal(profile.StepMs(1, 256), reports[0].StepMs);
        Assert.Equal([("chat", 1)], reports[0].Tokens.Select(t => (t.SequenceId, t.FirstTokenIndex)));
        Assert.Equal([("chat", 2), ("light", 0)], reports[1].Tokens.Select(t => (t.SequenceId, t.FirstTokenIndex)).Order());
    }

    private static SequenceSpec Deferrable(string id)
    {
        var spec = Ranked(id, 0, prompt: 50);
        spec.MaxTokens = 10;
        spec.DecodeDeferrals = 1;
        return spec;
    }

    private static SequenceSpec Ranked(string id, double rank, int prompt = 300)
    {
        var spec = Sequence(id, prompt, 2);
        spec.FairRank = rank;
        return spec;
    }
}
