using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Scheduler.Policies.Prefix;
using Scheduler.Policies.Profiles;
using Scheduler.Protos.V1;
using Scheduler.Worker.Engines;
using static Scheduler.Tests.Worker.EngineRun;

namespace Scheduler.Tests.Worker;

public sealed class SimulatedEnginePrefixTests
{
    // Three full blocks of text (3 × 64 tokens) and a partial one.
    private static readonly string s_prompt =
        string.Concat(Enumerable.Range(0, 3).Select(i => new string((char)('a' + i), PromptBlocks.DefaultBlockTokens * PromptBlocks.CharsPerToken))) + "tail";

    private readonly RecordingSink _sink = new();
    private readonly FakeTimeProvider _time = new();

    private static SequenceSpec Prompted(string id, string prompt, int promptTokens = 200, int maxTokens = 4) =>
        new() { SequenceId = id, Prompt = prompt, PromptTokens = promptTokens, MaxTokens = maxTokens };

    [Fact]
    public void Engine_RepeatedPrompt_PrefillsOnlyTheUncachedTokens_AndReportsTheCachedOnes()
    {
        using var engine = Engine(AcceleratorProfiles.A100);
        engine.Admit([Prompted("first", s_prompt)]);
        var first = ToCompletion(engine);
        engine.Admit([Prompted("again", s_prompt)]);
        var again = ToCompletion(engine);

        Assert.Equal(0, SequenceOutcome.Of("first", first).Finished!.CachedPromptTokens);
        Assert.Equal(3 * PromptBlocks.DefaultBlockTokens, SequenceOutcome.Of("again", again).Finished!.CachedPromptTokens);

        // The step that prefills: 200 tokens the first time, 8 the second (at 15k tok/s: 13.3 ms against 0.5 ms).
        var prefillMs = (200 - 8) * 1000.0 / AcceleratorProfiles.A100.PrefillTokensPerSecond;
        Assert.Equal(first[0].StepMs - prefillMs, again[0].StepMs, 1e-9);
        Assert.Equal(4, SequenceOutcome.Of("again", again).Finished!.CompletionTokens);
    }

    [Fact]
    public void Engine_DifferentTail_ReusesOnlyTheSharedBlocks()
    {
        using var engine = Engine(AcceleratorProfiles.A100);
        engine.Admit([Prompted("first", s_prompt)]);
        ToCompletion(engine);
        var changed = s_prompt[..(PromptBlocks.DefaultBlockTokens * PromptBlocks.CharsPerToken * 2)] + new string('z', 300);
        engine.Admit([Prompted("other", changed)]);

        Assert.Equal(2 * PromptBlocks.DefaultBlockTokens, SequenceOutcome.Of("other", ToCompletion(engine)).Finished!.CachedPromptTokens);
    }

    [Fact]
    public void Engine_UnderKvPressure_EvictsTheCachedPrefix_TailFirst()
    {
        // 1,000 KV tokens. A 12-block prompt (768 tokens) stays cached once done; a sequence reserving 510 leaves 490,
        // so only the prompt's first 7 blocks (448 tokens) survive it.
        var prompt = string.Concat(Enumerable.Range(0, 12).Select(i => new string((char)('A' + i), PromptBlocks.DefaultBlockTokens * PromptBlocks.CharsPerToken)));
        using var engine = Engine(AcceleratorProfiles.A100 with { KvCapacityTokens = 1_000 });
        engine.Admit([Prompted("first", prompt, promptTokens: 800)]);
        ToCompletion(engine);
        engine.Admit([Sequence("big", 500, 10)]);
        ToCompletion(engine);
        engine.Admit([Prompted("again", prompt, promptTokens: 800, maxTokens: 1)]);

        var again = SequenceOutcome.Of("again", ToCompletion(engine)).Finished!;

        Assert.Equal(FinishReason.Length, again.Reason);
        Assert.Equal(7 * PromptBlocks.DefaultBlockTokens, again.CachedPromptTokens);
    }

    [Fact]
    public void Engine_UnderKvPressure_ReportsTheBlocksItEvicted_TailFirst_Once()
    {
        // As above: the sequence reserving 510 leaves room for the prompt's first 7 blocks, so its last 5 are evicted,
        // and the report of a step after the admission names them, last block first.
        var prompt = string.Concat(Enumerable.Range(0, 12).Select(i => new string((char)('A' + i), PromptBlocks.DefaultBlockTokens * PromptBlocks.CharsPerToken)));
        var blocks = PromptBlocks.FromText(prompt)!;
        using var engine = Engine(AcceleratorProfiles.A100 with { KvCapacityTokens = 1_000 });
        engine.Admit([Prompted("first", prompt, promptTokens: 800)]);
        var first = ToCompletion(engine);
        engine.Admit([Sequence("big", 500, 10)]);
        var big = ToCompletion(engine);

        Assert.Empty(first.SelectMany(r => r.EvictedPrefixBlocks));
        Assert.Equal(blocks.Hashes.Skip(7).Reverse(), big.SelectMany(r => r.EvictedPrefixBlocks));
        Assert.NotEmpty(big[0].EvictedPrefixBlocks); // with the step that followed the admission
    }

    private SimulatedEngine Engine(AcceleratorProfile profile) => new("replica-0", profile, _sink, _time, NullLogger<SimulatedEngine>.Instance);
}
