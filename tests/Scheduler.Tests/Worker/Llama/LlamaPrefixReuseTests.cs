using Microsoft.Extensions.Logging.Abstractions;
using Scheduler.Policies.Prefix;
using Scheduler.Policies.Profiles;
using Scheduler.Protos.V1;
using Scheduler.Worker.Engines.Llama;
using static Scheduler.Tests.Worker.EngineRun;

namespace Scheduler.Tests.Worker.Llama;

/// <summary>The llama.cpp engine reusing the KV cells a finished sequence left in its slot, on the tiny GGUF model: what
/// it reports, and that the reused cells give the text a fresh replica gives.</summary>
public sealed class LlamaPrefixReuseTests(TinyModelFixture tiny) : IClassFixture<TinyModelFixture>, IDisposable
{
    private const int OutputTokens = 16;

    private readonly RecordingSink _sink = new();
    private readonly List<LlamaEngine> _engines = [];

    /// <summary>About 150 tokens of the tiny model: a prompt worth caching.</summary>
    internal static string LongPrompt { get; } = string.Join(' ', Enumerable.Repeat("hello world, the fast model is here", 12));

    [Fact]
    public void SamePromptAgain_ReusesAllButItsLastToken_AndDrawsTheSameText()
    {
        var engine = Engine();
        var promptTokens = tiny.Model.Tokenize(LongPrompt).Length;
        Assert.InRange(promptTokens, 100, 200);

        var first = Run(engine, Sequence("first", LongPrompt));
        var decodedBefore = engine.Stats.BatchedTokens;
        var again = Run(engine, Sequence("again", LongPrompt));

        Assert.Equal((0, promptTokens), (first.Finished!.CachedPromptTokens, first.Finished.PromptTokens));
        Assert.Equal((promptTokens - 1, promptTokens), (again.Finished!.CachedPromptTokens, again.Finished.PromptTokens));

        // Only the prompt's last token and the fed-back outputs went through llama_decode the second time.
        Assert.Equal(1 + (OutputTokens - 1), engine.Stats.BatchedTokens - decodedBefore);
        Assert.Equal(first.Text, again.Text);
        Assert.Equal(OutputTokens, again.Tokens.Count);
    }

    [Fact]
    public void DivergingPrompt_ReusesOnlyTheCommonPrefix_AndDrawsWhatAFreshReplicaDraws()
    {
        var engine = Engine();
        var cached = LongPrompt + " and the old answer";
        var diverging = LongPrompt + " but a new question";
        var common = tiny.Model.Tokenize(cached).AsSpan().CommonPrefixLength(tiny.Model.Tokenize(diverging));
        var divergingTokens = tiny.Model.Tokenize(diverging).Length;
        Assert.InRange(common, 100, divergingTokens - 2);

        Run(engine, Sequence("cached", cached));
        var reused = Run(engine, Sequence("diverging", diverging));
        var fresh = Run(Engine(), Sequence("fresh", diverging));

        Assert.Equal(common, reused.Finished!.CachedPromptTokens);
        Assert.Equal(0, fresh.Finished!.CachedPromptTokens);
        Assert.Equal(fresh.Text, reused.Text);

        // The cached prompt's divergent tail and its outputs were removed: the slot holds the new prompt and outputs only.
        Assert.Equal(divergingTokens + OutputTokens - 1, engine.KvCellsInUse());
        Assert.Equal(engine.CachedKvTokens, engine.KvCellsInUse());
    }

    [Fact]
    public void UnrelatedPrompt_TakesAnUnusedSlot_AndLeavesTheCacheForItsPrompt()
    {
        var engine = Engine();
        Run(engine, Sequence("long", LongPrompt));
        var unrelated = new SequenceSpec { SequenceId = "ids", PromptTokenIds = { 300, 301, 302, 303, 304 }, MaxTokens = 4, Seed = 1 };
        Assert.Equal(0, Run(engine, unrelated).Finished!.CachedPromptTokens);

        var again = Run(engine, Sequence("again", LongPrompt));

        Assert.Equal(tiny.Model.Tokenize(LongPrompt).Length - 1, again.Finished!.CachedPromptTokens);
    }

    [Fact]
    public void SharedCache_FreeSlotsCellsAreRemoved_WhenRunningSequencesNeedTheRoom()
    {
        // Three slots sharing 100 cells: "a" leaves 59 cells cached; "c" (35 reserved) fits beside them, "d" (46 more)
        // does not, so "a"'s cells go.
        var engine = Engine(slots: 3, kvCells: 100, maxContextTokens: 64, kvUnified: true);
        var promptTokens = tiny.Model.Tokenize(LongPrompt[..40]).Length;
        Run(engine, Sequence("a", LongPrompt[..40], maxTokens: 60 - promptTokens));
        Assert.Equal((59L, 59), (engine.CachedKvTokens, engine.KvCellsInUse()));

        engine.Admit([new SequenceSpec { SequenceId = "c", PromptTokenIds = { 300, 301, 302, 303, 304 }, MaxTokens = 30 }]);
        engine.Step();
        Assert.Equal((59L, 59 + 5), (engine.CachedKvTokens, engine.KvCellsInUse()));

        engine.Admit([new SequenceSpec { SequenceId = "d", PromptTokenIds = { 310, 311, 312, 313, 314 }, MaxTokens = 41 }]);
        var step = engine.Step()!;
        Assert.Equal((0L, (5 + 1) + 5), (engine.CachedKvTokens, engine.KvCellsInUse()));
        Assert.Equal(35 + 46, step.Capacity.KvTokensUsed);

        var reports = ToCompletion(engine.Step);
        Assert.Equal(FinishReason.Length, SequenceOutcome.Of("c", reports).Finished!.Reason);
        Assert.Equal(FinishReason.Length, SequenceOutcome.Of("d", reports).Finished!.Reason);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void RunningSequencesPrefix_IsGivenToANewSequence_InASharedCacheOnly(bool kvUnified)
    {
        var engine = Engine(slots: 2, kvUnified: kvUnified);
        var promptTokens = tiny.Model.Tokenize(LongPrompt).Length;
        engine.Admit([Sequence("running", LongPrompt, maxTokens: 40)]);
        var reports = new List<StepReport>();
        while (!reports.Any(r => r.Tokens.Count > 0))
        {
            reports.Add(engine.Step()!);
        }

        engine.Admit([Sequence("joining", LongPrompt)]);
        reports.AddRange(ToCompletion(engine.Step));

        // In a shared cache the running sequence's prompt cells are tagged for the new slot (llama.cpp's seq_cp within
        // one stream), and the same seed draws what the running sequence drew. Own streams copy only whole streams, so
        // there the new sequence prefills its whole prompt — in chunks batched with the running sequence's token, which
        // llama.cpp's CPU kernels may round differently from the running sequence's own prefill (it did here, at token
        // 12), so no text is compared there.
        var running = SequenceOutcome.Of("running", reports);
        var joining = SequenceOutcome.Of("joining", reports);
        Assert.Equal((kvUnified ? promptTokens - 1 : 0, FinishReason.Length), (joining.Finished!.CachedPromptTokens, joining.Finished.Reason));
        if (kvUnified)
        {
            Assert.Equal(running.Tokens.Take(OutputTokens).Select(t => t.Text), joining.Tokens.Select(t => t.Text));
        }
    }

    public void Dispose()
    {
        foreach (var engine in _engines)
        {
            engine.Dispose();
        }
    }

    [Fact]
    public void AnotherPromptTakingTheSlot_ReportsTheCachedPromptsBlocksEvicted_LastFirst()
    {
        // One slot: a prompt sharing nothing with the cached one empties it, and the scheduler's blocks of the cached
        // prompt (two of 256 characters) go out with the next step report, for the placement's index to forget.
        var engine = Engine(slots: 1, maxContextTokens: 512);
        var cached = LongPrompt + " " + LongPrompt[..100];
        var blocks = PromptBlocks.FromText(cached)!;
        Assert.Equal(2, blocks.Count);

        var first = ToCompletionReports(engine, Sequence("cached", cached));
        var other = ToCompletionReports(engine, Sequence("other", string.Join(' ', Enumerable.Repeat("quick brown fox jumps", 14))));

        Assert.Equal(FinishReason.Length, SequenceOutcome.Of("cached", first).Finished!.Reason);
        Assert.Equal(FinishReason.Length, SequenceOutcome.Of("other", other).Finished!.Reason);
        Assert.Empty(first.SelectMany(r => r.EvictedPrefixBlocks));
        Assert.Equal(blocks.Hashes.Reverse(), other.SelectMany(r => r.EvictedPrefixBlocks));
        Assert.InRange(SequenceOutcome.Of("other", other).Finished!.CachedPromptTokens, 0, 1); // the beginning-of-sequence token at most
    }

    private static List<StepReport> ToCompletionReports(LlamaEngine engine, SequenceSpec spec)
    {
        engine.Admit([spec]);
        return ToCompletion(engine.Step);
    }

    private static SequenceSpec Sequence(string id, string prompt, int maxTokens = OutputTokens) =>
        new() { SequenceId = id, Prompt = prompt, MaxTokens = maxTokens, Seed = 7, Temperature = 0.9f };

    private static SequenceOutcome Run(LlamaEngine engine, SequenceSpec spec)
    {
        engine.Admit([spec]);
        return SequenceOutcome.Of(spec.SequenceId, ToCompletion(engine.Step));
    }

    private LlamaEngine Engine(int slots = 4, int kvCells = 1024, int maxContextTokens = 256, bool kvUnified = false)
    {
        var profile = AcceleratorProfiles.A100 with { MaxSequences = slots, KvCapacityTokens = kvCells, StepTokenBudget = 64 };
        var engine = new LlamaEngine(
            "replica", profile, new LlamaReplicaSettings(tiny.Model, Threads: 1, kvUnified), maxContextTokens, _sink, TimeProvider.System, NullLogger<LlamaEngine>.Instance);
        _engines.Add(engine);
        return engine;
    }
}
