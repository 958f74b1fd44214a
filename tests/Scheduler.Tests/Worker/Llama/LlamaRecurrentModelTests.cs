using Microsoft.Extensions.Logging.Abstractions;
using Scheduler.Policies.Profiles;
using Scheduler.Protos.V1;
using Scheduler.Testing;
using Scheduler.Worker.Engines.Llama;
using static Scheduler.Tests.Worker.EngineRun;

namespace Scheduler.Tests.Worker.Llama;

/// <summary>The llama.cpp engine on a tiny recurrent (Mamba) GGUF: llama.cpp runs it, but a sequence's state cannot be
/// cut back to a prefix, so a slot's last sequence is no prefix cache for the next.</summary>
public sealed class LlamaRecurrentModelTests : IDisposable
{
    private const string Prompt = " hello world, the fast model";

    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("tiny-mamba-");
    private readonly LlamaModel _model;
    private readonly RecordingSink _sink = new();
    private readonly LlamaEngine _engine;

    public LlamaRecurrentModelTests()
    {
        _model = LlamaModel.Load(TinyGguf.WriteRecurrent(_directory.FullName), "test", gpuLayers: null);
        var profile = AcceleratorProfiles.A100 with { MaxSequences = 1, KvCapacityTokens = 256, StepTokenBudget = 64 };
        _engine = new LlamaEngine(
            "replica", profile, new LlamaReplicaSettings(_model, Threads: 1, KvUnified: false, FlashAttention: null, QueueAhead: 0), 256, _sink, TimeProvider.System, NullLogger<LlamaEngine>.Instance);
    }

    [Fact]
    public void SamePromptAgainInTheSameSlot_PrefillsItWhole_AndDrawsTheSameText()
    {
        var first = Run(Greedy("first"));
        var again = Run(Greedy("again"));

        // Before, the second took the slot's state as the prompt's prefix: llama.cpp refused to cut the state back
        // (llama_memory_seq_rm answered false), the prompt's last token went in after the first sequence's whole output,
        // and llama_decode refused the positions, which ended the replica's step loop.
        Assert.Equal((FinishReason.Length, 0), (again.Finished!.Reason, again.Finished.CachedPromptTokens));
        Assert.Equal(Enumerable.Range(0, 8), again.Indexes);
        Assert.Equal(first.Text, again.Text);
    }

    [Fact]
    public void PromptSharingABeginningWithTheSlotsLast_RunsAsOnAFreshReplica()
    {
        var longer = Greedy("longer");
        longer.Prompt = Prompt + " and the queue";
        Run(Greedy("first"));
        var shared = Run(longer);

        using var fresh = new LlamaRecurrentModelTests();
        var alone = fresh.Run(Greedy("alone", longer.Prompt));

        Assert.Equal(0, shared.Finished!.CachedPromptTokens);
        Assert.Equal(alone.Text, shared.Text);
    }

    public void Dispose()
    {
        _engine.Dispose();
        _model.Dispose();
        _directory.Delete(recursive: true);
    }

    private static SequenceSpec Greedy(string id, string prompt = Prompt) =>
        new() { SequenceId = id, Prompt = prompt, MaxTokens = 8, Temperature = 0 };

    private SequenceOutcome Run(SequenceSpec spec)
    {
        _engine.Admit([spec]);
        return SequenceOutcome.Of(spec.SequenceId, ToCompletion(_engine.Step));
    }
}
