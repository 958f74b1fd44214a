using System.Globalization;
using LLama.Native;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Scheduler.Policies.Profiles;
using Scheduler.Protos.Errors;
using Scheduler.Protos.V1;
using Scheduler.Worker.Engines;
using Scheduler.Worker.Engines.Llama;
using static Scheduler.Tests.Worker.EngineRun;

namespace Scheduler.Tests.Worker.Llama;

/// <summary>The llama.cpp engine on a tiny GGUF model: real tokenization, decode calls and sampling, no mocks.</summary>
public sealed class LlamaEngineTests(TinyModelFixture tiny) : IClassFixture<TinyModelFixture>, IDisposable
{
    private const string Prompt = " hello world, the fast model";

    private readonly RecordingSink _sink = new();
    private readonly List<LlamaEngine> _engines = [];

    [Fact]
    public void ConcurrentSequences_ShareEveryDecodeCall()
    {
        var engine = Engine();
        engine.Admit([Sequence("a", 8), Sequence("b", 8), Sequence("c", 8), Sequence("d", 8)]);

        var reports = ToCompletion(engine.Step);

        // The first step prefills all four prompts and draws their first tokens; each later step decodes one token of
        // each: 8 decode calls of 4 sequences, not 4 × 8 calls of one.
        var prompts = 4 * tiny.Model.Tokenize(Prompt).Length;
        Assert.Equal(new LlamaEngineStats(Decodes: 8, BatchedSequences: 32, MaxBatchSequences: 4, BatchedTokens: prompts + (7 * 4), MaxBatchTokens: prompts), engine.Stats);
        Assert.All(reports.Skip(1).Take(7), r => Assert.Equal(4, r.Tokens.Count));
        foreach (var id in new[] { "a", "b", "c", "d" })
        {
            var outcome = SequenceOutcome.Of(id, reports);
            Assert.Equal(Enumerable.Range(0, 8), outcome.Indexes);
            Assert.Equal(FinishReason.Length, outcome.Finished!.Reason);
            Assert.Equal(8, outcome.Finished.CompletionTokens);
            Assert.False(string.IsNullOrWhiteSpace(outcome.Text));
        }

        // Each freed slot keeps its prompt and the 7 tokens fed back as prefix cache, and the engine counts them.
        Assert.Equal((4L * (prompts / 4 + 7), 4 * (prompts / 4 + 7)), (engine.CachedKvTokens, engine.KvCellsInUse()));
    }

    [Fact]
    public void FlashAttentionOff_ConcurrentSequencesStillShareEveryDecodeCall()
    {
        // The setting an operator turns off on a CPU (docs/engines.md): llama.cpp takes it and decodes as before.
        var engine = Engine(flashAttention: false);
        engine.Admit([Sequence("a", 6), Sequence("b", 6), Sequence("c", 6)]);

        var reports = ToCompletion(engine.Step);

        Assert.Equal((6, 3), (engine.Stats.Decodes, engine.Stats.MaxBatchSequences));
        foreach (var id in "abc")
        {
            Assert.Equal(Enumerable.Range(0, 6), SequenceOutcome.Of(id.ToString(), reports).Indexes);
        }

        Assert.Equal(engine.CachedKvTokens, engine.KvCellsInUse());
    }

    [Fact]
    public void SequencesJoinBetweenSteps_AndDecodeAlongsideRunningOnes()
    {
        var engine = Engine();
        engine.Admit([Sequence("first", 6)]);
        var reports = new List<StepReport> { engine.Step()!, engine.Step()! };

        engine.Admit([Sequence("second", 6)]);
        reports.AddRange(ToCompletion(engine.Step));

        // Step 3 decodes "first" and prefills "second" in one call; both then decode together until "first" is done.
        Assert.Equal(2, engine.Stats.MaxBatchSequences);
        Assert.Equal(8, engine.Stats.Decodes);
        Assert.Equal(FinishReason.Length, SequenceOutcome.Of("first", reports).Finished!.Reason);
        Assert.Equal(Enumerable.Range(0, 6), SequenceOutcome.Of("second", reports).Indexes);
    }

    [Fact]
    public void OverShareSequence_SkipsItsDecodeInTheStepThatPrefillsALightPrompt_AndDrawsTheSameText()
    {
        var engine = Engine();
        var alone = Run(engine, Sequence("alone", 6, seed: 5));
        var flood = Sequence("flood", 6, seed: 5);
        flood.DecodeDeferrals = 1;
        engine.Admit([flood]);
        var reports = new List<StepReport> { engine.Step()! };

        engine.Admit([Sequence("light", 3)]);
        var lightStep = engine.Step()!;
        reports.Add(lightStep);
        reports.AddRange(ToCompletion(engine.Step));

        // The light prompt's step holds only its prefill; the flood's sampled token waits one step and its text is
        // what it draws undeferred.
        Assert.Equal(["light"], lightStep.Tokens.Select(t => t.SequenceId));
        var deferred = SequenceOutcome.Of("flood", reports);
        Assert.Equal(Enumerable.Range(0, 6), deferred.Indexes);
        Assert.Equal(alone.Text, deferred.Text);
        Assert.Equal(Enumerable.Range(0, 3), SequenceOutcome.Of("light", reports).Indexes);
    }

    [Fact]
    public void SameSeed_DrawsSameText_OtherSeedOtherText()
    {
        var engine = Engine();

        var first = Run(engine, Sequence("a", 16, seed: 7, temperature: 0.9f, topP: 0.95f, topK: 40));
        var again = Run(engine, Sequence("b", 16, seed: 7, temperature: 0.9f, topP: 0.95f, topK: 40));
        var other = Run(engine, Sequence("c", 16, seed: 8, temperature: 0.9f, topP: 0.95f, topK: 40));

        Assert.Equal(first.Text, again.Text);
        Assert.NotEqual(first.Text, other.Text);
    }

    [Fact]
    public void ZeroTemperature_PicksTheMostLikelyToken_WhateverTheSeed()
    {
        var engine = Engine();

        var one = Run(engine, Sequence("a", 12, seed: 1, temperature: 0));
        var two = Run(engine, Sequence("b", 12, seed: 2, temperature: 0));

        Assert.Equal(one.Text, two.Text);
    }

    [Theory]
    [InlineData(float.Epsilon)]
    [InlineData(1e-40f)]
    [InlineData(9e-6f)]
    public void NearZeroTemperature_IsGreedy_NotAnArbitraryToken(float temperature)
    {
        // llama.cpp divides the logits by the temperature: these made them infinite, and the draw picked the last token
        // of the vocabulary every time.
        var greedy = Run(Engine(), Sequence("greedy", 10, temperature: 0));

        var nearZero = Run(Engine(), Sequence("near-zero", 10, seed: 7, temperature: temperature));

        Assert.Equal(greedy.Text, nearZero.Text);
    }

    [Fact]
    public void StopText_EndsTheSequenceWithStop_AtTheTokenItEndsIn()
    {
        var engine = Engine();
        var free = Run(engine, Sequence("free", 16, seed: 3));

        // A stop text spanning tokens 3 and 4: the sequence ends with the first token that completes it.
        var stop = free.Tokens[3].Text + free.Tokens[4].Text;
        var expected = Enumerable.Range(1, 16).First(n => string.Concat(free.Tokens.Take(n).Select(t => t.Text)).Contains(stop, StringComparison.Ordinal));
        var spec = Sequence("stopped", 16, seed: 3);
        spec.Stop = "never in this text";
        spec.StopSequences.Add(stop);
        var stopped = Run(engine, spec);

        Assert.Equal(FinishReason.Stop, stopped.Finished!.Reason);
        Assert.Equal(expected, stopped.Finished.CompletionTokens);
        Assert.Equal(free.Tokens.Take(expected).Select(t => t.Text), stopped.Tokens.Select(t => t.Text));
    }

    [Fact]
    public void EndOfGenerationToken_EndsTheSequenceWithStop()
    {
        var engine = Engine(tiny.EndingModel);

        var outcome = Run(engine, Sequence("s", 16));

        Assert.Empty(outcome.Tokens);
        Assert.Equal(FinishReason.Stop, outcome.Finished!.Reason);
        Assert.Equal(0, outcome.Finished.CompletionTokens);
    }

    [Fact]
    public void Cancel_ReportsCancelled_FreesTheSlot_AndKeepsItsKvCellsAsCacheForTheNext()
    {
        var engine = Engine(slots: 1);
        engine.Admit([Sequence("a", 100)]);
        engine.Step();
        engine.Step();
        Assert.True(engine.KvCellsInUse() > 0);

        engine.Cancel(["a"], FinishReason.Cancelled);
        var report = engine.Step()!;

        var promptTokens = tiny.Model.Tokenize(Prompt).Length;
        Assert.Equal(new SequenceFinished { SequenceId = "a", Reason = FinishReason.Cancelled, CompletionTokens = 2, PromptTokens = promptTokens }, Assert.Single(report.Finished));

        // Its prompt and the one token fed back stay as the free slot's cache; no reservation holds them.
        Assert.Equal((promptTokens + 1L, promptTokens + 1), (engine.CachedKvTokens, engine.KvCellsInUse()));
        Assert.Equal(1, report.Capacity.FreeSequenceSlots);
        Assert.Equal(0, report.Capacity.KvTokensUsed);

        // The one slot takes the next sequence, which reuses the prompt but its last token and runs as if it were the first.
        var next = Run(engine, Sequence("b", 5));
        Assert.Equal((FinishReason.Length, promptTokens - 1), (next.Finished!.Reason, next.Finished.CachedPromptTokens));
        Assert.Equal(Enumerable.Range(0, 5), next.Indexes);
        Assert.Equal(promptTokens + 4, engine.KvCellsInUse());
    }

    [Fact]
    public void Cancel_OfOneSequence_KeepsItsKvCells_UntilAnotherPromptTakesItsSlot()
    {
        var engine = Engine(slots: 2);
        engine.Admit([Sequence("a", 100), Sequence("b", 100)]);
        engine.Step();
        engine.Step();
        var both = engine.KvCellsInUse();

        engine.Cancel(["a"], FinishReason.Cancelled);
        engine.Step();
        var afterCancel = engine.KvCellsInUse();
        var other = new SequenceSpec { SequenceId = "c", PromptTokenIds = { 300, 301, 302, 303, 304 }, MaxTokens = 4 };
        engine.Admit([other]);
        engine.Step();

        // "b" holds its prompt and the tokens fed back; "a" keeps as many as cache until "c", a prompt sharing nothing
        // with it, takes its slot (the only free one): then "a"'s cells are removed and "c" prefills all of its own.
        var promptTokens = tiny.Model.Tokenize(Prompt).Length;
        Assert.Equal(2 * (promptTokens + 1), both);
        Assert.Equal((promptTokens + 2) + (promptTokens + 1), afterCancel);
        Assert.Equal((promptTokens + 3) + 5, engine.KvCellsInUse());
        Assert.Equal(0L, engine.CachedKvTokens);
    }

    [Fact]
    public void FreedSlots_AreRefilledLowestFirst_SoRunningSequencesKeepConsecutiveSlots()
    {
        // llama.cpp decodes per-slot KV streams in one pass only over consecutive slots (LlamaEngine.Plan).
        var engine = Engine();
        engine.Admit([Sequence("a", 100), Sequence("b", 100), Sequence("c", 100)]);
        engine.Step();
        engine.Cancel(["a"], FinishReason.Cancelled);
        engine.Step();
        engine.Cancel(["b"], FinishReason.Cancelled);
        engine.Step();

        // Slots 0 and 1 keep the same prompt cached; slot 1 was freed last, but slot 0 is lower: "d" takes it and slot 1
        // keeps its cells untouched; then "e" takes slot 1, and slot 3 stays free.
        var cachedInSlot1 = engine.KvCells(slot: 1);
        engine.Admit([Sequence("d", 100)]);
        engine.Step();
        Assert.Equal(cachedInSlot1, engine.KvCells(slot: 1));
        engine.Admit([Sequence("e", 100)]);
        engine.Step();

        var promptTokens = tiny.Model.Tokenize(Prompt).Length;
        Assert.Equal((promptTokens + 1, promptTokens, 0), (engine.KvCells(slot: 0), engine.KvCells(slot: 1), engine.KvCells(slot: 3)));
        Assert.True(engine.KvCells(slot: 2) > promptTokens);
    }

    [Fact]
    public void OverCapacity_IsRejected_AndRunsNothing()
    {
        // 2 slots sharing 100 KV cells: "a" fits, "b" overflows the cells, "c" fits, "d" finds no slot.
        var engine = Engine(slots: 2, kvCells: 100, maxContextTokens: 64, kvUnified: true);
        engine.Admit([Sequence("a", 30), Sequence("b", 56), Sequence("c", 30), Sequence("d", 4)]);

        var reports = ToCompletion(engine.Step);

        Assert.Equal(["b", "d"], reports[0].Finished.Where(f => f.Reason == FinishReason.Rejected).Select(f => f.SequenceId).Order());
        Assert.Equal(2, reports[^1].Capacity.RejectedAdmissions);
        Assert.Equal(2, reports[^1].Capacity.PeakSequences);
        Assert.All(["b", "d"], id => Assert.Empty(SequenceOutcome.Of(id, reports).Tokens));
        Assert.Equal(FinishReason.Length, SequenceOutcome.Of("a", reports).Finished!.Reason);
        Assert.Equal(FinishReason.Length, SequenceOutcome.Of("c", reports).Finished!.Reason);
    }

    [Fact]
    public void QueuedAhead_StartsInTheStepAfterItsSlotFrees_WithoutAnotherAdmission()
    {
        // One slot, one admission held ahead: "b" arrives with "a" and waits at the node, not at the scheduler.
        var engine = Engine(slots: 1, kvCells: 256, queueAhead: 1);
        engine.Admit([Sequence("a", 5), Sequence("b", 5), Sequence("c", 5)]);

        var reports = ToCompletion(engine.Step);

        // "c" is past the slot and the queue ahead: refused at once, as the scheduler over-counted.
        Assert.Equal("c", Assert.Single(reports[0].Finished).SequenceId);
        Assert.Equal(FinishReason.Rejected, reports[0].Finished[0].Reason);
        var aFinished = reports.FindIndex(r => r.Finished.Any(f => f.SequenceId == "a"));
        var bFirstToken = reports.FindIndex(r => r.Tokens.Any(t => t.SequenceId == "b"));
        Assert.Equal(aFinished + 1, bFirstToken);
        Assert.Equal(Enumerable.Range(0, 5), SequenceOutcome.Of("b", reports).Indexes);
        Assert.Equal(FinishReason.Length, SequenceOutcome.Of("b", reports).Finished!.Reason);
        Assert.Equal((1L, 1), (engine.StartedAhead, engine.Stats.MaxBatchSequences));
        Assert.Equal(1, reports[^1].Capacity.RejectedAdmissions);

        // "b" had the prompt "a" left in the slot: it prefilled only its last token.
        var promptTokens = tiny.Model.Tokenize(Prompt).Length;
        Assert.Equal(promptTokens - 1, SequenceOutcome.Of("b", reports).Finished!.CachedPromptTokens);
        Assert.Equal((promptTokens + 4L, promptTokens + 4), (engine.CachedKvTokens, engine.KvCellsInUse()));
    }

    [Fact]
    public void QueuedAhead_Cancelled_IsReportedCancelled_AndNeverRuns()
    {
        var engine = Engine(slots: 1, kvCells: 256, queueAhead: 1);
        engine.Admit([Sequence("a", 5), Sequence("b", 5)]);
        var first = engine.Step()!;

        engine.Cancel(["b"], FinishReason.Cancelled);
        var reports = ToCompletion(engine.Step);

        var cancelled = SequenceOutcome.Of("b", [first, .. reports]);
        Assert.Equal((FinishReason.Cancelled, 0), (cancelled.Finished!.Reason, cancelled.Finished.CompletionTokens));
        Assert.Empty(cancelled.Tokens);
        Assert.Equal(FinishReason.Length, SequenceOutcome.Of("a", [first, .. reports]).Finished!.Reason);
        Assert.Equal(0L, engine.StartedAhead);
    }

    [Fact]
    public void QueuedAhead_DroppedSilently_WithTheRunningOnes_WhenTheStreamCloses()
    {
        var engine = Engine(slots: 1, kvCells: 256, queueAhead: 1);
        engine.Admit([Sequence("a", 5), Sequence("b", 5)]);

        engine.CancelAllSilently();

        Assert.Null(engine.Step());
        Assert.Equal(0, engine.KvCellsInUse());

        // Sent again on a new stream, "b" is no duplicate of a sequence the engine still holds: it runs.
        engine.Admit([Sequence("b", 5)]);
        Assert.Equal(FinishReason.Length, SequenceOutcome.Of("b", ToCompletion(engine.Step)).Finished!.Reason);
        Assert.Equal(0L, engine.StartedAhead);
    }

    [Fact]
    public void OwnKvStreams_CapEachSequenceAtItsSlotsShare()
    {
        // 2 slots of 100 cells, each its own stream: a slot holds 50, less than the 64 the replica's context allows.
        var engine = Engine(slots: 2, kvCells: 100, maxContextTokens: 64);
        var promptTokens = tiny.Model.Tokenize(Prompt).Length;
        engine.Admit([Sequence("fills", 50 - promptTokens), Sequence("over", 51 - promptTokens)]);

        var reports = ToCompletion(engine.Step);

        var over = SequenceOutcome.Of("over", reports).Finished!;
        Assert.Equal(
            (FinishReason.Error, $"prompt is {promptTokens} tokens by the model's tokenizer; with max_tokens {51 - promptTokens} it needs 51, and the replica's context holds 50"),
            (over.Reason, over.Error));
        var fills = SequenceOutcome.Of("fills", reports);
        Assert.Equal((FinishReason.Length, 50 - promptTokens), (fills.Finished!.Reason, fills.Tokens.Count));
        Assert.Equal((49L, 49), (engine.CachedKvTokens, engine.KvCellsInUse()));
    }

    [Fact]
    public void PromptThatCanNeverRun_FinishesWithError_NamingWhy_AndIsNoRejection()
    {
        // "long" needs more than a sequence's context by the model's tokenizer, "oov" names a token the vocabulary
        // does not have: no room freeing up would ever let them run.
        var engine = Engine(maxContextTokens: 64);
        var tooLong = Sequence("long", 60);
        tooLong.PromptTokens = 1; // The scheduler's own count, with another tokenizer.
        var outOfVocabulary = new SequenceSpec { SequenceId = "oov", PromptTokenIds = { 1, 100_000 }, MaxTokens = 4 };
        engine.Admit([tooLong, outOfVocabulary, Sequence("fits", 4)]);

        var reports = ToCompletion(engine.Step);

        var promptTokens = tiny.Model.Tokenize(Prompt).Length;
        var vocabulary = tiny.Model.Vocabulary.Count;
        var errors = reports[0].Finished.Where(f => f.Reason == FinishReason.Error).OrderBy(f => f.SequenceId).ToArray();
        Assert.Equal(
            [
                ("long", promptTokens, $"prompt is {promptTokens} tokens by the model's tokenizer; with max_tokens 60 it needs {promptTokens + 60}, and the replica's context holds 64"),
                ("oov", 0, $"prompt token id 100000 is outside the model's vocabulary of {vocabulary.ToString("N0", CultureInfo.InvariantCulture)}"),
            ],
            errors.Select(f => (f.SequenceId, f.PromptTokens, f.Error)));
        Assert.All(["long", "oov"], id => Assert.Empty(SequenceOutcome.Of(id, reports).Tokens));
        Assert.Equal(0, reports[^1].Capacity.RejectedAdmissions);
        Assert.Equal(FinishReason.Length, SequenceOutcome.Of("fits", reports).Finished!.Reason);
        Assert.Equal(string.Empty, SequenceOutcome.Of("fits", reports).Finished!.Error);
    }

    [Fact]
    public void MaxTokensTheSchedulerFitted_PastTheContextByTheModelsCount_IsLoweredToWhatTheContextLeaves()
    {
        // A client that set no max_tokens: the scheduler gave it what its own count of the prompt (3 fewer tokens than the
        // model's) leaves of the context. The engine failed it as too long though its prompt fit.
        var engine = Engine(maxContextTokens: 64);
        var promptTokens = tiny.Model.Tokenize(Prompt).Length;
        var fitted = Sequence("fitted", 64 - (promptTokens - 3), temperature: 0);
        fitted.FitMaxTokens = true;

        var outcome = Run(engine, fitted);

        Assert.Equal((FinishReason.Length, 64 - promptTokens), (outcome.Finished!.Reason, outcome.Finished.CompletionTokens));
        Assert.Equal(Enumerable.Range(0, 64 - promptTokens), outcome.Indexes);

        // A max_tokens the client set is its own: too large, it is still refused.
        var set = Run(engine, Sequence("set", 64 - (promptTokens - 3), temperature: 0));
        Assert.Equal((FinishReason.Error, ErrorReasons.ContextLengthExceeded), (set.Finished!.Reason, set.Finished.ErrorReason));
    }

    [Fact]
    public void TextPrompt_IsTokenizedByTheModel_AndItsCountIsReported()
    {
        var engine = Engine();
        var text = Sequence("text", 3);
        text.PromptTokens = 2; // The scheduler's own count, with another tokenizer.
        var ids = new SequenceSpec { SequenceId = "ids", PromptTokenIds = { 1, 300, 301, 302, 303 }, MaxTokens = 3 };
        engine.Admit([text, ids]);

        var reports = ToCompletion(engine.Step);

        var promptTokens = tiny.Model.Tokenize(Prompt).Length;
        Assert.True(promptTokens > 2);
        Assert.Equal(promptTokens, SequenceOutcome.Of("text", reports).Finished!.PromptTokens);
        Assert.Equal(5, SequenceOutcome.Of("ids", reports).Finished!.PromptTokens);
        Assert.Equal(promptTokens + 5, engine.Stats.MaxBatchTokens);
    }

    [Fact]
    public void ChatSequence_IsRenderedWithTheGgufTemplate_NotTheSchedulersPrompt()
    {
        var engine = Engine(tiny.ChatModel);
        var chat = ChatSequence("chat");

        var outcome = Run(engine, chat);

        // The GGUF's ChatML, with the assistant's turn opened, not the scheduler's rendering in `prompt`.
        var expected = tiny.ChatModel.Tokenize(
            "<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhello world<|im_end|>\n<|im_start|>assistant\n").Length;
        Assert.NotEqual(tiny.ChatModel.Tokenize(chat.Prompt).Length, expected);
        Assert.Equal(expected, outcome.Finished!.PromptTokens);
        Assert.Equal(FinishReason.Length, outcome.Finished.Reason);
    }

    [Fact]
    public void ChatSequence_OnAGgufWithoutTemplate_RunsTheSchedulersPrompt()
    {
        var engine = Engine();
        var chat = ChatSequence("chat");

        var outcome = Run(engine, chat);

        Assert.False(tiny.Model.HasChatTemplate);
        Assert.Equal(tiny.Model.Tokenize(chat.Prompt).Length, outcome.Finished!.PromptTokens);
    }

    [Fact]
    public void Resume_DrawsTheSameTokensAgain_AndReportsOnlyTheRest()
    {
        var full = Run(Engine(), Sequence("job-42", 10));

        // Another replica (as on another node) resumes after 4 delivered tokens.
        var resumed = Run(Engine(), Sequence("job-42", 10, resumeFrom: 4));

        Assert.Equal(Enumerable.Range(4, 6), resumed.Indexes);
        Assert.Equal(full.Tokens.Skip(4).Select(t => t.Text), resumed.Tokens.Select(t => t.Text));
        Assert.Equal(10, resumed.Finished!.CompletionTokens);
        Assert.Equal(FinishReason.Length, resumed.Finished.Reason);
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(0.9f)]
    public void Resume_WithItsDeliveredText_PrefillsIt_AndGoesOnAsTheFirstRun_WithoutAStepPerDeliveredToken(float temperature)
    {
        var full = Run(Engine(), Sequence("job-42", 50, seed: 7, temperature: temperature));

        // Resumed after 40 delivered tokens, with their text, as the scheduler sends it.
        var engine = Engine();
        var resume = Sequence("job-42", 50, resumeFrom: 40, seed: 7, temperature: temperature);
        resume.ResumeText = string.Concat(full.Tokens.Take(40).Select(t => t.Text));
        engine.Admit([resume]);
        var reports = ToCompletion(engine.Step);

        var resumed = SequenceOutcome.Of("job-42", reports);
        Assert.Equal(full.Tokens.Skip(40).Select(t => t.Text), resumed.Tokens.Select(t => t.Text));
        Assert.Equal(Enumerable.Range(40, 10), resumed.Indexes);

        // One step prefills the prompt and the 40 delivered tokens and draws the first new one, then one step a token:
        // not 40 steps of drawing them again first.
        Assert.Equal(10, reports.Count);
        Assert.Equal(engine.KvCellsInUse(), engine.CachedKvTokens);
    }

    [Fact]
    public void Resume_WithItsDeliveredTextPrefilledAcrossCalls_DrawsOnceAtEachPosition_AndGoesOnAsTheFirstRun()
    {
        var full = Run(Engine(), Sequence("job-43", 50, seed: 7, temperature: 0.9f));
        var engine = Engine(microBatchTokens: 8);
        var resume = Sequence("job-43", 50, resumeFrom: 40, seed: 7, temperature: 0.9f);
        resume.ResumeText = string.Concat(full.Tokens.Take(40).Select(t => t.Text));
        engine.Admit([resume]);

        var reports = ToCompletion(engine.Step);

        // The prompt and the delivered tokens run in calls of 8 within the first step, each call's logits drawn after
        // it: the sampler sees every position once, in order, as when the step is one call, and goes on as the first run.
        var input = tiny.Model.Tokenize(Prompt).Length + 40;
        Assert.Equal((input + 7) / 8, engine.Stats.Decodes - (reports.Count - 1));
        Assert.Equal(full.Tokens.Skip(40).Select(t => t.Text), SequenceOutcome.Of("job-43", reports).Tokens.Select(t => t.Text));
    }

    [Fact]
    public void Resume_OfAChatRenderedByTheGgufTemplate_PrefillsTheAnswerSoFar_AndGoesOnAsTheFirstRun()
    {
        var chat = ChatSequence("chat-5");
        chat.MaxTokens = 50;
        var full = Run(Engine(tiny.ChatModel), chat);

        var engine = Engine(tiny.ChatModel);
        var resume = chat.Clone();
        resume.ResumeFromToken = 40;
        resume.ResumeText = string.Concat(full.Tokens.Take(40).Select(t => t.Text));
        engine.Admit([resume]);
        var reports = ToCompletion(engine.Step);

        Assert.Equal(full.Tokens.Skip(40).Select(t => t.Text), SequenceOutcome.Of("chat-5", reports).Tokens.Select(t => t.Text));

        // The rendered chat and the 40 tokens prefill in chunks of the step budget (64), the last drawing token 40; then
        // a step a token.
        var prefillSteps = (full.Finished!.PromptTokens + 40 + 63) / 64;
        Assert.Equal(prefillSteps + 9, reports.Count);
    }

    [Fact]
    public void Resume_ContinuesTheDeliveredText_EvenWhereTheModelWouldDrawAnother()
    {
        var full = Run(Engine(), Sequence("job-7", 50, temperature: 0));
        var delivered = string.Concat(full.Tokens.Take(40).Select((t, i) => i == 39 ? " cache" : t.Text));

        // The client has " cache" as token 39 where this model draws " fast" (as when another batch rounded a draw
        // otherwise): what follows continues that text, not the one the model would have drawn.
        var engine = Engine();
        var resume = Sequence("job-7", 50, resumeFrom: 40, temperature: 0);
        resume.ResumeText = delivered;
        engine.Admit([resume]);
        var resumed = SequenceOutcome.Of("job-7", ToCompletion(engine.Step));

        var promptedWithIt = Run(Engine(), new SequenceSpec { SequenceId = "prompted", Prompt = Prompt + delivered, MaxTokens = 10, Temperature = 0 });
        Assert.NotEqual(string.Concat(full.Tokens.Skip(40).Select(t => t.Text)), promptedWithIt.Text);
        Assert.Equal(promptedWithIt.Text, resumed.Text);
        Assert.Equal(Enumerable.Range(40, 10), resumed.Indexes);
    }

    [Fact]
    public void Resume_WithATextOfFewerTokensThanDelivered_PrefillsIt_AndNumbersWhatFollowsFromTheDeliveredCount()
    {
        var full = Run(Engine(), Sequence("job-8", 50, temperature: 0));
        var delivered = string.Concat(full.Tokens.Take(39).Select(t => t.Text));

        // 40 tokens delivered whose text the model's tokenizer makes 39 (as when the model drew apart pieces it merges).
        var engine = Engine();
        var resume = Sequence("job-8", 50, resumeFrom: 40, temperature: 0);
        resume.ResumeText = delivered;
        engine.Admit([resume]);
        var reports = ToCompletion(engine.Step);

        var resumed = SequenceOutcome.Of("job-8", reports);
        var promptedWithIt = Run(Engine(), new SequenceSpec { SequenceId = "prompted", Prompt = Prompt + delivered, MaxTokens = 10, Temperature = 0 });
        Assert.Equal(promptedWithIt.Text, resumed.Text);
        Assert.Equal(Enumerable.Range(40, 10), resumed.Indexes);
        Assert.Equal((10, 50), (reports.Count, resumed.Finished!.CompletionTokens));
    }

    [Fact]
    public void Resume_WithATextOfMoreTokensThanDelivered_DrawsTheDeliveredTokensAgain()
    {
        var full = Run(Engine(), Sequence("job-8", 50, seed: 3, temperature: 0.9f));

        // 40 tokens delivered, with a text the tokenizer makes 41: prefilled, it would take cells past the sequence's
        // reservation, so the 40 are drawn again a step each.
        var engine = Engine();
        var resume = Sequence("job-8", 50, resumeFrom: 40, seed: 3, temperature: 0.9f);
        resume.ResumeText = string.Concat(full.Tokens.Take(41).Select(t => t.Text));
        engine.Admit([resume]);
        var reports = ToCompletion(engine.Step);

        Assert.Equal(full.Tokens.Skip(40).Select(t => t.Text), SequenceOutcome.Of("job-8", reports).Tokens.Select(t => t.Text));
        Assert.Equal(50, reports.Count);
    }

    [Fact]
    public void Resume_DrawsAtMost64DeliveredTokensAStep_WhateverTheStepBudget()
    {
        var full = Run(Engine(), Sequence("job-9", 210, seed: 5, temperature: 0));
        var engine = Engine(stepTokens: 512);
        var resume = Sequence("job-9", 210, resumeFrom: 200, seed: 5, temperature: 0);
        resume.ResumeText = string.Concat(full.Tokens.Take(200).Select(t => t.Text));
        engine.Admit([resume]);

        var reports = ToCompletion(engine.Step);

        // Each delivered token asks llama.cpp for a row of logits: a step prefills the prompt's tokens before its last and
        // 64 more, not the prompt and all 200 the budget would take.
        var promptTokens = tiny.Model.Tokenize(Prompt).Length;
        Assert.Equal(promptTokens - 1 + LlamaSequence.MaxLogitsPerStep, engine.Stats.MaxBatchTokens);
        Assert.Equal(full.Tokens.Skip(200).Select(t => t.Text), SequenceOutcome.Of("job-9", reports).Tokens.Select(t => t.Text));
        Assert.Equal(4 + 9, reports.Count);
    }

    [Fact]
    public void PromptAdmittedMidStep_RankedAheadOfALongPrefillsRest_EndsTheStepAfterTheCallUnderWay_AndGoesFirstInTheNext()
    {
        var engine = Engine(stepTokens: 64, microBatchTokens: 16);
        var longPrompt = LongSequence("long", 120, fairRank: 2);
        var light = Sequence("light", 3, temperature: 0);
        light.FairRank = 1;
        engine.Admit([longPrompt]);
        engine.BetweenCalls = () =>
        {
            engine.BetweenCalls = null;
            engine.Admit([light]);
        };

        var first = engine.Step()!;

        // The step planned 64 tokens of the long prompt in 4 calls; the light prompt, admitted after the first, ends it
        // there: 16 prompt positions in the long prompt's KV cells, no token drawn.
        Assert.Empty(first.Tokens);
        Assert.Equal(new LlamaEngineStats(Decodes: 1, BatchedSequences: 1, MaxBatchSequences: 1, BatchedTokens: 16, MaxBatchTokens: 16), engine.Stats);
        Assert.Equal(16, engine.KvCells(0));

        // The next step prefills the light prompt first and draws its first token; the long prompt takes the rest of
        // the budget, from where it stopped.
        var lightPrompt = tiny.Model.Tokenize(Prompt).Length;
        var second = engine.Step()!;
        Assert.Equal(["light"], second.Tokens.Select(t => t.SequenceId));
        Assert.Equal((16 + 64 - lightPrompt, lightPrompt), (engine.KvCells(0), engine.KvCells(1)));

        // What ran is kept exactly: both draw what they draw alone, in one call a step.
        var reports = new List<StepReport> { first, second };
        reports.AddRange(ToCompletion(engine.Step));
        var unsplit = Engine(stepTokens: 64);
        Assert.Equal(Run(unsplit, LongSequence("long", 120, fairRank: 2)).Text, SequenceOutcome.Of("long", reports).Text);
        Assert.Equal(Run(unsplit, Sequence("light", 3, temperature: 0)).Text, SequenceOutcome.Of("light", reports).Text);
    }

    [Fact]
    public void PromptAdmittedMidStep_RankedBehindTheStepsPrefill_LetsTheStepRunWhole()
    {
        var engine = Engine(stepTokens: 64, microBatchTokens: 16);
        engine.Admit([LongSequence("long", 120, fairRank: 1)]);
        var behind = Sequence("behind", 3);
        behind.FairRank = 2;
        engine.BetweenCalls = () =>
        {
            engine.BetweenCalls = null;
            engine.Admit([behind]);
        };

        engine.Step();

        Assert.Equal((4L, 64L), (engine.Stats.Decodes, engine.Stats.BatchedTokens));
        Assert.Equal(64, engine.KvCells(0));
    }

    [Fact]
    public void PrefillInMicroBatches_DrawsTheSameTokensAsOneCallAStep()
    {
        string[] ids = ["a", "b", "c"];
        var split = Engine(stepTokens: 128, microBatchTokens: 16);
        var whole = Engine(stepTokens: 128);
        split.Admit([.. ids.Select(id => LongSequence(id, 90, fairRank: 1))]);
        whole.Admit([.. ids.Select(id => LongSequence(id, 90, fairRank: 1))]);

        var splitReports = ToCompletion(split.Step);
        var wholeReports = ToCompletion(whole.Step);

        // Each step's prefill runs in calls of at most 16 prompt tokens (the first with the step's decodes, at most 3),
        // the same tokens in the same steps, and every sequence draws the same greedy text as when each step is one call.
        Assert.Equal(wholeReports.Count, splitReports.Count);
        Assert.Equal(whole.Stats.BatchedTokens, split.Stats.BatchedTokens);
        Assert.True(split.Stats.Decodes > whole.Stats.Decodes, $"{split.Stats.Decodes} calls split, {whole.Stats.Decodes} whole");
        Assert.InRange(split.Stats.MaxBatchTokens, 16, 16 + ids.Length);
        foreach (var id in ids)
        {
            var expected = SequenceOutcome.Of(id, wholeReports);
            var actual = SequenceOutcome.Of(id, splitReports);
            Assert.Equal(Enumerable.Range(0, 8), actual.Indexes);
            Assert.Equal(expected.Text, actual.Text);
        }
    }

    [Fact]
    public void PrefillCallRefusedForKvCellsMidStep_KeepsTheCallsThatRan_HandsThePromptBack_AndItsRetryDrawsWhatItWouldHave()
    {
        // 4 slots sharing 256 cells: "a" decodes while "long" prefills 63 tokens in four calls of 16. Before the second
        // call, cells the engine does not count are taken (slot 3, which it never gave out), so llama.cpp refuses it.
        var engine = Engine(kvCells: 256, maxContextTokens: 200, kvUnified: true, stepTokens: 64, microBatchTokens: 16);
        engine.Admit([Sequence("a", 12, temperature: 0)]);
        var first = engine.Step()!;
        engine.Admit([LongSequence("long", 120, fairRank: 1)]);
        engine.BetweenCalls = () =>
        {
            engine.BetweenCalls = null;
            TakeCells(engine, slot: 3, FreeCells(engine) - 4);
        };

        var refused = engine.Step()!;

        // The first call's work is kept: "a"'s token, and exactly the 16 prompt positions "long" got, now its free slot's
        // cache; "long" is handed back with this step's report (it went a step later), having delivered nothing.
        Assert.Equal([1], SequenceOutcome.Of("a", [refused]).Indexes);
        Assert.Equal(2L, engine.Stats.Decodes);
        Assert.Empty(SequenceOutcome.Of("long", [refused]).Tokens);
        Assert.Equal(new SequenceFinished { SequenceId = "long", Reason = FinishReason.Rejected, PromptTokens = 120 }, Assert.Single(refused.Finished));
        Assert.Equal(1, refused.Capacity.RejectedAdmissions);
        Assert.Equal(16, engine.KvCells(1));

        // The cells come free; the scheduler sends "long" again. It reuses the 16 positions kept, and both draw exactly
        // what they draw undisturbed: nothing lost, nothing twice.
        engine.NativeContext.MemorySequenceRemove((LLamaSeqId)3, 0, -1);
        engine.Admit([LongSequence("long", 120, fairRank: 1)]);
        var rest = ToCompletion(engine.Step);
        var undisturbed = Engine(stepTokens: 64);
        var retried = SequenceOutcome.Of("long", rest);
        Assert.Equal((FinishReason.Length, 16), (retried.Finished!.Reason, retried.Finished.CachedPromptTokens));
        Assert.Equal(Run(undisturbed, LongSequence("long", 120, fairRank: 1)).Text, retried.Text);
        var a = SequenceOutcome.Of("a", [first, refused, .. rest]);
        Assert.Equal(Enumerable.Range(0, 12), a.Indexes);
        Assert.Equal(Run(undisturbed, Sequence("a", 12, temperature: 0)).Text, a.Text);
    }

    [Fact]
    public void DecodeCallRefusedForKvCells_DrawsNothing_AndItsSequencesGoOnInTheNextStep()
    {
        // Every cell left is taken where the engine does not count it, so llama.cpp refuses the step's only call, which
        // holds "a"'s decode and no prompt: the replica must go on (it threw, and its step loop ended).
        var engine = Engine(kvCells: 256, maxContextTokens: 200, kvUnified: true, stepTokens: 64, microBatchTokens: 16);
        engine.Admit([Sequence("a", 12, temperature: 0)]);
        var first = engine.Step()!;
        TakeCells(engine, slot: 3, FreeCells(engine));

        var refused = engine.Step()!;

        Assert.Empty(refused.Tokens);
        Assert.Empty(refused.Finished);
        engine.NativeContext.MemorySequenceRemove((LLamaSeqId)3, 0, -1);
        var a = SequenceOutcome.Of("a", [first, refused, .. ToCompletion(engine.Step)]);
        Assert.Equal(Enumerable.Range(0, 12), a.Indexes);
        Assert.Equal(Run(Engine(stepTokens: 64), Sequence("a", 12, temperature: 0)).Text, a.Text);
    }

    [Fact]
    public void DecodesRefusedForKvCellsStepAfterStep_HandBackTheSequenceHoldingTheMostCells_AndTheOthersGoOn()
    {
        // "a" and "big" (a 60-token prompt) decode; every cell left is taken where the engine does not count it and never
        // given back, so llama.cpp refuses every step's call. The replica retried the same decodes for ever: "big" never
        // finished, and neither did "a".
        using var logs = new CapturedLogs();
        using var loggers = LoggerFactory.Create(b => b.AddProvider(logs));
        var engine = Engine(kvCells: 256, maxContextTokens: 200, kvUnified: true, logger: loggers.CreateLogger<LlamaEngine>());
        var started = StartDecoding(engine);
        var bigCells = engine.KvCells(1);
        TakeCells(engine, slot: 3, FreeCells(engine));

        var refused = Enumerable.Range(0, LlamaEngine.RefusedStepsBeforeHandBack).Select(_ => engine.Step()!).ToList();

        // The decodes wait as before up to the bound; then "big", holding the most cells (though its claim is the
        // better), goes back to the scheduler
        // with that step's report, from the token it delivered, saying why (counted against its hand-backs) and counted
        // among the replica's rejections.
        Assert.All(refused, r => Assert.Empty(r.Tokens));
        Assert.All(refused.SkipLast(1), r => Assert.Empty(r.Finished));
        var handedBack = Assert.Single(refused[^1].Finished);
        Assert.Equal(("big", FinishReason.Rejected, 1, 60), (handedBack.SequenceId, handedBack.Reason, handedBack.CompletionTokens, handedBack.PromptTokens));
        Assert.Equal(
            $"llama.cpp found no free KV cells for its next token {LlamaEngine.RefusedStepsBeforeHandBack} steps in a row on replica replica (its cache fuller than the engine counts): handed back, as the waiting sequence holding the most cells ({bigCells}), so the others can go on",
            handedBack.Error);
        Assert.Equal(1, refused[^1].Capacity.RejectedAdmissions);
        Assert.Equal(1, refused[^1].Capacity.RunningSequences);
        var warning = Assert.Single(logs.Messages, m => m.Contains("handed back", StringComparison.Ordinal));
        Assert.Equal(
            $"Replica replica handed back sequence big holding {bigCells} KV cells, resuming at token 1: llama.cpp refused the decodes waiting for KV cells {LlamaEngine.RefusedStepsBeforeHandBack} steps in a row; 1 other sequences wait for the room",
            warning);

        // Its cells are freed and "a" goes on in them, drawing exactly what it draws undisturbed.
        var rest = ToCompletion(engine.Step);
        Assert.Equal(0, engine.KvCells(1));
        var a = SequenceOutcome.Of("a", [.. started, .. refused, .. rest]);
        Assert.Equal(Enumerable.Range(0, 12), a.Indexes);
        Assert.Equal(FinishReason.Length, a.Finished!.Reason);
        Assert.Equal(Run(Engine(), Sequence("a", 12, temperature: 0)).Text, a.Text);
    }

    [Fact]
    public void DecodesRefusedForKvCellsFewerStepsThanTheBound_GoOnExactlyAsNeverRefused()
    {
        var unrefused = Engine(kvCells: 256, maxContextTokens: 200, kvUnified: true);
        var expected = StartDecoding(unrefused).Concat(ToCompletion(unrefused.Step)).ToList();
        var engine = Engine(kvCells: 256, maxContextTokens: 200, kvUnified: true);
        var started = StartDecoding(engine);
        TakeCells(engine, slot: 3, FreeCells(engine));
        var refused = Enumerable.Range(0, LlamaEngine.RefusedStepsBeforeHandBack - 1).Select(_ => engine.Step()!).ToList();

        // The cells come free one step short of the bound: nothing was handed back, and both go on as if never refused.
        engine.NativeContext.MemorySequenceRemove((LLamaSeqId)3, 0, -1);
        var reports = started.Concat(refused).Concat(ToCompletion(engine.Step)).ToList();

        Assert.All(refused, r => Assert.Equal((0, 0), (r.Tokens.Count, r.Finished.Count)));
        Assert.Equal(0, reports[^1].Capacity.RejectedAdmissions);
        foreach (var id in new[] { "a", "big" })
        {
            var actual = SequenceOutcome.Of(id, reports);
            Assert.Equal(SequenceOutcome.Of(id, expected).Tokens, actual.Tokens);
            Assert.Equal(SequenceOutcome.Of(id, expected).Finished, actual.Finished);
            Assert.Equal(FinishReason.Length, actual.Finished!.Reason);
        }
    }

    [Fact]
    public void DecodeCallLlamaCppFailsOtherwise_HandsItsSequencesBackSayingWhy_EmptiesTheirSlots_AndTheReplicaGoesOn()
    {
        // llama.cpp holds a position of "a"'s slot that the engine did not write, so the step's call, which feeds "a"'s
        // token at that position, is an invalid batch to it (as a recurrent model's uncut state made it; LlamaMemory).
        // The step threw, the replica's loop ended, and its jobs stayed running for ever.
        var engine = Engine(slots: 2);
        engine.Admit([Sequence("a", 8), Sequence("b", 8)]);
        engine.Step();
        var batch = new LLamaBatch();
        batch.Add((LLamaToken)300, engine.KvCells(0), (LLamaSeqId)0, logits: true);
        Assert.Equal(DecodeResult.Ok, engine.NativeContext.Decode(batch));

        var failed = engine.Step()!;

        // The call held both decodes: both go back to the scheduler from the token each delivered, saying why.
        Assert.Empty(failed.Tokens);
        Assert.Equal("a b", string.Join(' ', failed.Finished.Select(f => f.SequenceId).Order()));
        Assert.All(failed.Finished, f =>
        {
            Assert.Equal((FinishReason.Rejected, 1), (f.Reason, f.CompletionTokens));
            Assert.Equal("llama.cpp failed the decode call holding it on replica replica: llama_decode answered InvalidInputBatch (-1); the node's log says why under LlamaCpp", f.Error);
        });
        Assert.Equal((0, 2L), (failed.Capacity.RunningSequences, failed.Capacity.RejectedAdmissions));

        // Their slots are emptied, the stray position with them, and the replica runs the next job as a fresh one would.
        var next = Run(engine, Sequence("c", 8, temperature: 0));
        Assert.Equal((FinishReason.Length, 0), (next.Finished!.Reason, next.Finished.CachedPromptTokens));
        Assert.Equal(Run(Engine(), Sequence("c", 8, temperature: 0)).Text, next.Text);
    }

    [Fact]
    public async Task Loop_StreamsTokens_AndBatchesSequencesAdmittedWhileOthersRun()
    {
        // The sink takes one report, then holds the loop (as a slow network would) until "b" has been admitted, so
        // "b" joins "a" under way however fast the steps are.
        var held = new HeldSink(_sink);
        var engine = Engine(sink: held);
        using var stop = new CancellationTokenSource();
        var loop = Task.Run(() => engine.RunAsync(stop.Token));

        engine.Admit([Sequence("a", 40)]);
        await _sink.WaitUntilAsync(r => r.Any(s => s.Tokens.Any(t => t.SequenceId == "a")), TimeSpan.FromSeconds(30));
        engine.Admit([Sequence("b", 40)]);
        held.Release();
        await _sink.WaitUntilAsync(r => r.SelectMany(s => s.Finished).Count() == 2, TimeSpan.FromSeconds(30));
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => loop);

        Assert.Equal(2, engine.Stats.MaxBatchSequences);
        Assert.Equal(Enumerable.Range(0, 40), SequenceOutcome.Of("a", _sink.Reports).Indexes);
        Assert.Equal(Enumerable.Range(0, 40), SequenceOutcome.Of("b", _sink.Reports).Indexes);
        Assert.All(_sink.Reports, r => Assert.True(r.StepMs > 0));
    }

    public void Dispose()
    {
        foreach (var engine in _engines)
        {
            engine.Dispose();
        }
    }

    private static SequenceSpec Sequence(
        string id, int maxTokens, int resumeFrom = 0, ulong? seed = null, float? temperature = null, float? topP = null, int? topK = null)
    {
        var spec = new SequenceSpec { SequenceId = id, Prompt = Prompt, MaxTokens = maxTokens, ResumeFromToken = resumeFrom };
        if (seed is { } s)
        {
            spec.Seed = s;
        }

        if (temperature is { } t)
        {
            spec.Temperature = t;
        }

        if (topP is { } p)
        {
            spec.TopP = p;
        }

        if (topK is { } k)
        {
            spec.TopK = k;
        }

        return spec;
    }

    /// <summary>A greedy sequence of 8 tokens whose prompt is <paramref name="promptTokens"/> token ids.</summary>
    private static SequenceSpec LongSequence(string id, int promptTokens, double fairRank)
    {
        var spec = Sequence(id, 8, temperature: 0);
        spec.Prompt = "";
        spec.PromptTokenIds.AddRange(Enumerable.Range(0, promptTokens).Select(i => 10 + (i * 7 % 300)));
        spec.FairRank = fairRank;
        return spec;
    }

    /// <summary>A chat job as the scheduler sends it: its turns, and its prompt as the catalog's template rendered them.</summary>
    private static SequenceSpec ChatSequence(string id)
    {
        var spec = Sequence(id, 4);
        spec.Prompt = "system: be brief\nuser: hello world\nassistant: ";
        spec.Messages.Add(new ChatTurn { Role = "system", Content = "be brief" });
        spec.Messages.Add(new ChatTurn { Role = "user", Content = "hello world" });
        return spec;
    }

    private static SequenceOutcome Run(LlamaEngine engine, SequenceSpec spec)
    {
        engine.Admit([spec]);
        return SequenceOutcome.Of(spec.SequenceId, ToCompletion(engine.Step));
    }

    /// <summary>"a" (slot 0, 12 tokens, fair rank 2) prefills and draws, then "big" (slot 1, a 60-token prompt, 8 tokens,
    /// the better fair rank 1) prefills beside its decode: both have drawn and decode from the next step on. Returns the
    /// two steps' reports.</summary>
    private static List<StepReport> StartDecoding(LlamaEngine engine)
    {
        var a = Sequence("a", 12, temperature: 0);
        a.FairRank = 2;
        engine.Admit([a]);
        var first = engine.Step()!;
        engine.Admit([LongSequence("big", 60, fairRank: 1)]);
        return [first, engine.Step()!];
    }

    /// <summary>KV cells no sequence holds; between steps or mid-step, from the step loop.</summary>
    private static int FreeCells(LlamaEngine engine) => (int)engine.NativeContext.ContextSize - engine.KvCellsInUse();

    /// <summary>Writes <paramref name="cells"/> positions of a filler token in <paramref name="slot"/>, which the engine
    /// has not given out: cells its reservations do not count.</summary>
    private static void TakeCells(LlamaEngine engine, int slot, int cells)
    {
        var batch = new LLamaBatch();
        for (var start = 0; start < cells; start += 64)
        {
            batch.Clear();
            for (var position = start; position < Math.Min(cells, start + 64); position++)
            {
                batch.Add((LLamaToken)10, position, (LLamaSeqId)slot, logits: position == cells - 1);
            }

            Assert.Equal(DecodeResult.Ok, engine.NativeContext.Decode(batch));
        }
    }

    private LlamaEngine Engine(
        LlamaModel? model = null, int slots = 4, int kvCells = 1024, int maxContextTokens = 256, IStepReportSink? sink = null, bool kvUnified = false, bool? flashAttention = null, int queueAhead = 0, int stepTokens = 64, int microBatchTokens = 0, ILogger<LlamaEngine>? logger = null)
    {
        var profile = AcceleratorProfiles.A100 with { MaxSequences = slots, KvCapacityTokens = kvCells, StepTokenBudget = stepTokens };
        var engine = new LlamaEngine(
            "replica", profile, new LlamaReplicaSettings(model ?? tiny.Model, Threads: 1, kvUnified, flashAttention, queueAhead), maxContextTokens, sink ?? _sink, TimeProvider.System, logger ?? NullLogger<LlamaEngine>.Instance, microBatchTokens: microBatchTokens);
        _engines.Add(engine);
        return engine;
    }

    /// <summary>Passes the first report on, then is full until <see cref="Release"/>.</summary>
    private sealed class HeldSink(IStepReportSink inner) : IStepReportSink
    {
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _published;

        public void Release() => _released.TrySetResult();

        public bool TryPublish(StepReport report) =>
            (_released.Task.IsCompleted || Interlocked.Increment(ref _published) == 1) && inner.TryPublish(report);

        public ValueTask WaitForRoomAsync(CancellationToken cancellationToken) => new(_released.Task.WaitAsync(cancellationToken));
    }
}
