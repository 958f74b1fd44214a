using Scheduler.Policies.Prefix;
using Scheduler.Policies.Profiles;
using Scheduler.Protos.V1;

namespace Scheduler.Worker.Engines;

/// <summary>One sequence in a simulated replica's running batch. Mutated only under its engine's lock.</summary>
internal sealed class SimulatedSequence : IBatchedSequence, IPlannedSequence
{
    private readonly ulong _seed;
    private readonly int _maxTokens;
    private readonly StopTexts _stops;
    private int _prefillRemaining;

    /// <param name="spec">The admitted sequence.</param>
    /// <param name="prefixes">The engine's prefix cache: the prompt's leading blocks found there are not prefilled again.</param>
    public SimulatedSequence(SequenceSpec spec, PrefixBlockCache prefixes)
    {
        Id = spec.SequenceId;
        TraceParent = spec.Traceparent;
        FairRank = spec.FairRank;
        DecodeDeferrals = Math.Max(0, spec.DecodeDeferrals);
        ContendedPrefillTokens = Math.Max(0, spec.ContendedPrefillTokens);
        ContendedPrefillWindowMs = Math.Max(0, spec.ContendedPrefillWindowMs);
        _maxTokens = spec.MaxTokens;
        NextTokenIndex = Math.Max(0, spec.ResumeFromToken);
        PromptTokens = SchedulerPromptTokens.Of(spec);
        KvTokens = (long)PromptTokens + Math.Max(0, spec.MaxTokens);
        Blocks = SequenceBlocks.Of(spec);
        CachedPromptTokens = Blocks?.CachedTokens(prefixes.Touch(Blocks), PromptTokens) ?? 0;
        // A resumed sequence rebuilds its KV cache from the prompt and the tokens already delivered.
        _prefillRemaining = PromptTokens - CachedPromptTokens + NextTokenIndex;
        _seed = SyntheticTokens.Seed(Id);
        _stops = new StopTexts(spec);
        _stops.Resume(DeliveredEnd(_stops.TailLength));
    }

    public string Id { get; }

    public string TraceParent { get; }

    public double FairRank { get; }

    public int DecodeDeferrals { get; }

    public int ContendedPrefillTokens { get; }

    public int ContendedPrefillWindowMs { get; }

    public int DeferredSteps { get; set; }

    /// <summary>True once prefilled: it decodes a token in each step it is not deferred.</summary>
    bool IPlannedSequence.Decoding => Prefilled;

    /// <summary>KV-cache tokens reserved for the sequence's whole life: prompt plus max output.</summary>
    public long KvTokens { get; }

    public int PromptTokens { get; }

    /// <summary>The prompt's blocks, stored in the prefix cache once prefilled; null for a prompt shorter than a block.</summary>
    public PromptBlocks? Blocks { get; }

    /// <summary>Prompt tokens found in the prefix cache at admission, which the sequence does not prefill.</summary>
    public int CachedPromptTokens { get; }

    /// <summary>True once the prompt is in the KV cache; from the next step on, the sequence decodes.</summary>
    public bool Prefilled { get; private set; }

    /// <summary>Index of the next token to emit, which is also the number of tokens delivered so far, resumed ones included.</summary>
    public int NextTokenIndex { get; private set; }

    /// <summary>Length or Stop once the sequence is done, else null.</summary>
    public FinishReason? EndReason { get; private set; }

    /// <summary>Prompt tokens (plus resumed output tokens) not yet in the KV cache.</summary>
    public int PrefillRemaining => _prefillRemaining;

    /// <summary>Prefills a chunk of <paramref name="chunk"/> tokens, as the step plan granted.</summary>
    public void Prefill(int chunk)
    {
        _prefillRemaining -= chunk;
        if (_prefillRemaining == 0)
        {
            Prefilled = true;
            if (NextTokenIndex >= _maxTokens)
            {
                EndReason = FinishReason.Length;
            }
        }
    }

    /// <summary>Produces the next token's text and decides whether the sequence is done.</summary>
    public string EmitToken()
    {
        var text = SyntheticTokens.Token(_seed, NextTokenIndex++);
        if (NextTokenIndex >= _maxTokens)
        {
            EndReason = FinishReason.Length;
        }

        if (_stops.Append(text))
        {
            EndReason = FinishReason.Stop;
        }

        return text;
    }

    public SequenceFinished Finished(FinishReason reason) =>
        new() { SequenceId = Id, Reason = reason, CompletionTokens = NextTokenIndex, CachedPromptTokens = CachedPromptTokens };

    /// <summary>At least the last <paramref name="characters"/> of the text delivered before a resume, so a stop text
    /// spanning the resume point is still found.</summary>
    private string DeliveredEnd(int characters)
    {
        var text = string.Empty;
        for (var i = NextTokenIndex - 1; i >= 0 && text.Length < characters; i--)
        {
            text = SyntheticTokens.Token(_seed, i) + text;
        }

        return text;
    }
}
