using Microsoft.Extensions.Logging.Abstractions;
using Scheduler.Policies.Profiles;
using Scheduler.Protos.V1;
using Scheduler.Worker.Engines.Llama;
using static Scheduler.Tests.Worker.EngineRun;

namespace Scheduler.Tests.Worker.Llama;

/// <summary>How the llama.cpp engine turns tokens into text where characters take several bytes, split across tokens:
/// a model that writes a chosen script (<see cref="TinyModelFixture.Script"/>) of CJK, emoji and a combining mark as
/// byte tokens, then a lead byte and the end of sequence.</summary>
public sealed class LlamaTextTests(TinyModelFixture tiny) : IClassFixture<TinyModelFixture>, IDisposable
{
    private const string Prompt = " hello world, the fast model";

    /// <summary>The script's tokens before its end of sequence.</summary>
    private const int ScriptTokens = 14;

    private readonly List<LlamaEngine> _engines = [];

    [Fact]
    public void StreamedText_IsTheModelsDecodedOutput_WhereverMaxTokensCutsACharacter()
    {
        var engine = Engine();
        for (var maxTokens = 1; maxTokens <= ScriptTokens; maxTokens++)
        {
            var outcome = Run(engine, Sequence($"job-{maxTokens}", maxTokens));

            // A character cut by max_tokens is what decoding the bytes gives: U+FFFD, not nothing.
            Assert.Equal((maxTokens, Decoded(maxTokens)), (maxTokens, outcome.Text));
            Assert.Equal(Enumerable.Range(0, maxTokens), outcome.Indexes);
            Assert.Equal((FinishReason.Length, maxTokens), (outcome.Finished!.Reason, outcome.Finished.CompletionTokens));
            AssertWholeCharacters(outcome);
        }
    }

    [Fact]
    public void EndOfSequenceAfterALeadByte_EndsTheTextWithTheReplacementCharacter()
    {
        var outcome = Run(Engine(), Sequence("job", 40));

        Assert.Equal(Decoded(ScriptTokens), outcome.Text);
        Assert.EndsWith(",\uFFFD", outcome.Text, StringComparison.Ordinal);
        Assert.Equal(Enumerable.Range(0, ScriptTokens), outcome.Indexes);
        Assert.Equal((FinishReason.Stop, ScriptTokens), (outcome.Finished!.Reason, outcome.Finished.CompletionTokens));
    }

    [Theory]
    [InlineData("中", 4)]
    [InlineData("日", 5)]
    [InlineData("😀", 9)]
    [InlineData("e\u0301", 12)]

    // Text is matched, not graphemes: "😀e" ends the sequence before the combining acute that would have made it "😀é".
    [InlineData("😀e", 10)]
    [InlineData("\u0301,", 13)]
    public void StopText_OfMultiByteCharacters_EndsTheSequenceAtTheTokenCompletingIt(string stop, int tokens)
    {
        var spec = Sequence("job", 40);
        spec.Stop = stop;

        var outcome = Run(Engine(), spec);

        Assert.Equal((FinishReason.Stop, tokens), (outcome.Finished!.Reason, outcome.Finished.CompletionTokens));
        Assert.Equal(Decoded(tokens), outcome.Text);
        Assert.Equal(Enumerable.Range(0, tokens), outcome.Indexes);
    }

    [Theory]
    [InlineData(1, true)]
    [InlineData(2, true)]
    [InlineData(3, true)]
    [InlineData(4, true)]
    [InlineData(6, true)]
    [InlineData(7, true)]
    [InlineData(8, true)]
    [InlineData(9, true)]
    [InlineData(11, true)]
    [InlineData(2, false)]
    [InlineData(7, false)]
    [InlineData(11, false)]
    public void HandedBackAfterAnyToken_ResumesToTheTextOfAnUninterruptedRun(int drawn, bool withText)
    {
        // Preempted once `drawn` tokens are drawn (a step each), perhaps in the middle of a character; resumed on another
        // replica from what it delivered, as the scheduler resumes it: with the delivered text (a text prompt), or by
        // drawing the delivered tokens again (a prompt in token ids).
        const int MaxTokens = ScriptTokens - 1;
        var spec = Sequence("job", MaxTokens);
        if (!withText)
        {
            spec.PromptTokenIds.AddRange(tiny.ScriptedModel.Tokenize(Prompt).Select(t => (int)t));
            spec.Prompt = "";
        }

        var engine = Engine();
        engine.Admit([spec]);
        var reports = Enumerable.Range(0, drawn).Select(_ => engine.Step()!).ToList();
        engine.Cancel([spec.SequenceId], FinishReason.Preempted);
        reports.Add(engine.Step()!);
        var first = SequenceOutcome.Of(spec.SequenceId, reports);
        var delivered = first.Indexes.Count();
        Assert.Equal((FinishReason.Preempted, delivered), (first.Finished!.Reason, first.Finished.CompletionTokens));

        var resume = spec.Clone();
        resume.ResumeFromToken = delivered;
        resume.ResumeText = withText ? first.Text : "";
        var resumed = Engine();
        resumed.Admit([resume]);
        var steps = ToCompletion(resumed.Step);
        var second = SequenceOutcome.Of(spec.SequenceId, steps);

        // With its text, the resumed sequence prefills what was delivered and draws a step per new token; without, it
        // draws the delivered tokens again first, a step each.
        Assert.Equal(withText ? MaxTokens - delivered : MaxTokens, steps.Count);
        Assert.Equal(Decoded(MaxTokens), first.Text + second.Text);
        Assert.Equal(Enumerable.Range(0, MaxTokens), first.Indexes.Concat(second.Indexes));
        Assert.Equal(MaxTokens, second.Finished!.CompletionTokens);
        AssertWholeCharacters(first);
        AssertWholeCharacters(second);
    }

    public void Dispose()
    {
        foreach (var engine in _engines)
        {
            engine.Dispose();
        }
    }

    private static string Decoded(int tokens) => TinyModelFixture.ScriptText(TinyModelFixture.Script, tokens);

    /// <summary>Every chunk of text a sequence reported holds whole characters: none is empty (a token whose bytes
    /// end in the middle of a character goes out with the token completing it) and none ends in half a surrogate pair.</summary>
    private static void AssertWholeCharacters(SequenceOutcome outcome) =>
        Assert.All(outcome.Tokens, t => Assert.True(t.Text.Length > 0 && !char.IsHighSurrogate(t.Text[^1]) && !char.IsLowSurrogate(t.Text[0]), $"chunk \"{t.Text}\" at token {t.FirstTokenIndex}"));

    private static SequenceSpec Sequence(string id, int maxTokens) =>
        new() { SequenceId = id, Prompt = Prompt, MaxTokens = maxTokens, Temperature = 0.8f, Seed = 3 };

    private static SequenceOutcome Run(LlamaEngine engine, SequenceSpec spec)
    {
        engine.Admit([spec]);
        return SequenceOutcome.Of(spec.SequenceId, ToCompletion(engine.Step));
    }

    private LlamaEngine Engine()
    {
        var profile = AcceleratorProfiles.A100 with { MaxSequences = 2, KvCapacityTokens = 512, StepTokenBudget = 64 };
        var engine = new LlamaEngine(
            "replica", profile, new LlamaReplicaSettings(tiny.ScriptedModel, Threads: 1, KvUnified: false, FlashAttention: null, QueueAhead: 0), 256, new RecordingSink(), TimeProvider.System, NullLogger<LlamaEngine>.Instance);
        _engines.Add(engine);
        return engine;
    }
}
