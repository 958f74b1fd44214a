using LLama;
using LLama.Native;
using Scheduler.Policies.Profiles;
using Scheduler.Protos.V1;

namespace Scheduler.Worker.Engines.Llama;

/// <summary>
/// One sequence in a llama.cpp replica's batch: its slot (the llama.cpp sequence id its KV cells carry), its prompt in
/// the model's tokens and how much of it is in the KV cache, the sampled token still to be fed, its own sampler, and
/// its output so far. Changed only by its engine's step loop, under the engine's lock.
/// </summary>
/// <remarks>
/// A sequence resumed from token <c>n</c> (re-dispatched after a failure) prefills its prompt and draws its first
/// <c>n</c> tokens again without reporting them: with the same seed it draws the same ones, and the KV cache ends up
/// as the first run left it. A sequence whose slot's cells already hold the first <c>reused</c> prompt tokens (left by an
/// earlier sequence, <see cref="LlamaSlots"/>) prefills only the rest.
/// </remarks>
internal sealed class LlamaSequence(SequenceSpec spec, LLamaToken[] prompt, LLamaSeqId slot, int reused, StreamingTokenDecoder decoder)
    : IBatchedSequence, IPlannedSequence, IDisposable
{
    private readonly SafeLLamaSamplerChainHandle _sampler = LlamaSampling.Create(spec);
    private readonly int _resumeFrom = Math.Max(0, spec.ResumeFromToken);
    private readonly StopTexts _stops = new(spec);

    private readonly int _reused = reused;

    // Drawn tokens fed back through a decode, in order: with the prompt, what the slot's KV cells hold.
    private readonly List<LLamaToken> _fed = [];
    private LLamaToken? _pending;

    public string Id => spec.SequenceId;

    public string TraceParent => spec.Traceparent;

    public double FairRank => spec.FairRank;

    public int DecodeDeferrals => Math.Max(0, spec.DecodeDeferrals);

    public int ContendedPrefillTokens => Math.Max(0, spec.ContendedPrefillTokens);

    public int ContendedPrefillWindowMs => Math.Max(0, spec.ContendedPrefillWindowMs);

    public int DeferredSteps { get; set; }

    public LLamaSeqId Slot => slot;

    /// <summary>KV cells reserved for the sequence's whole life: prompt plus max output.</summary>
    public long KvTokens => (long)prompt.Length + spec.MaxTokens;

    /// <summary>False once the sequence left the batch; a step under way then drops what it computed for it.</summary>
    public bool Active { get; private set; } = true;

    /// <summary>Prompt tokens in the KV cache, the reused ones included.</summary>
    public int Prefilled { get; private set; } = reused;

    public int PrefillRemaining => prompt.Length - Prefilled;

    /// <summary>True when a sampled token waits to be fed: the sequence decodes one token in the next step.</summary>
    public bool Decoding => _pending is not null;

    /// <summary>Tokens drawn so far, resumed ones included: the index of the next.</summary>
    public int NextTokenIndex { get; private set; }

    /// <summary>Length or stop once the sequence is done, else null.</summary>
    public FinishReason? EndReason { get; private set; }

    /// <summary>Adds the sampled token to <paramref name="batch"/>; returns the batch index whose logits draw the next.</summary>
    public int AddDecode(LLamaBatch batch) => batch.Add(_pending!.Value, prompt.Length + NextTokenIndex - 1, slot, logits: true);

    /// <summary>Adds the next <paramref name="chunk"/> prompt tokens to <paramref name="batch"/>; returns the batch index
    /// whose logits draw the first output token when the chunk ends the prompt, else -1.</summary>
    public int AddPrefill(LLamaBatch batch, int chunk)
    {
        var last = Prefilled + chunk == prompt.Length;
        var index = batch.AddRange(prompt.AsSpan(Prefilled, chunk), Prefilled, slot, logitsLast: last);
        return last ? index : -1;
    }

    /// <summary>Draws the next token from the logits at <paramref name="batchIndex"/> of the decode just done.</summary>
    public LLamaToken Sample(SafeLLamaContextHandle context, int batchIndex) => _sampler.Sample(context, batchIndex);

    /// <summary>Records that the step's decode took in this sequence's part: <paramref name="prefillChunk"/> prompt
    /// tokens, or its pending token when 0.</summary>
    public void Decoded(int prefillChunk)
    {
        if (prefillChunk > 0)
        {
            Prefilled += prefillChunk;
        }
        else
        {
            _fed.Add(_pending!.Value);
            _pending = null;
        }
    }

    /// <summary>Takes a drawn token: ends the sequence on the model's end of generation, a stop text or max tokens,
    /// and returns what to report of it (nothing for a token delivered before a resume or the end-of-generation token).</summary>
    public SequenceTokens? Accept(LLamaToken token, SafeLlamaModelHandle.Vocabulary vocabulary)
    {
        if (token.IsEndOfGeneration(vocabulary))
        {
            EndReason = FinishReason.Stop;
            return null;
        }

        decoder.Add(token);
        var text = decoder.Read();
        var index = NextTokenIndex++;
        _pending = token;
        if (NextTokenIndex >= spec.MaxTokens)
        {
            EndReason = FinishReason.Length;
        }

        if (_stops.Append(text))
        {
            EndReason = FinishReason.Stop;
        }

        return index < _resumeFrom ? null : new SequenceTokens { SequenceId = Id, FirstTokenIndex = index, Text = text, TokenCount = 1 };
    }

    /// <summary>Takes the sequence out of the batch; its sampler is freed before the next decode, and its KV cells stay
    /// with its slot as a prefix cache (<see cref="CachedTokens"/>).</summary>
    public void Leave() => Active = false;

    /// <summary>What the slot's KV cells hold from position 0 by the decodes this sequence saw applied: its prefilled
    /// prompt, then (once the prompt is in) the drawn tokens fed back.</summary>
    public LLamaToken[] CachedTokens() => Prefilled < prompt.Length ? prompt[..Prefilled] : [.. prompt, .. _fed];

    public SequenceFinished Finished(FinishReason reason) => new()
    {
        SequenceId = Id,
        Reason = reason,
        CompletionTokens = Math.Max(NextTokenIndex, _resumeFrom),
        PromptTokens = prompt.Length,
        CachedPromptTokens = _reused,
    };

    public void Dispose() => _sampler.Dispose();
}
