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
/// A sequence resumed from token <c>n</c> (re-dispatched after a failure or a preemption) draws its first <c>n</c> tokens
/// again without reporting them: with the same seed it draws the same ones in the same batch, and the KV cache ends up as
/// the first run left it. Drawn one a step, that took <c>n</c> steps before the next new token. Given the delivered text
/// in the model's tokens instead (<paramref name="replay"/>, at most <c>n</c> of them), it prefills them after the prompt
/// and takes them, still drawing once at each of their positions (with <c>n</c> of them its sampler goes on from where
/// the first run's was), and numbers what follows from <c>n</c>: one prefill, and a continuation of exactly the text the
/// client has. A sequence whose slot's cells
/// already hold the first <c>reused</c> prompt tokens (left by an earlier sequence, <see cref="LlamaSlots"/>) prefills
/// only the rest.
/// <para>A token whose bytes end in the middle of a character (a byte token, as models spell CJK, emoji and accents they
/// have no piece for) is held and reported with the token that completes the character, as one chunk of both: what the
/// scheduler counts as delivered always ends on a whole character, so a job handed back resumes from a text and a
/// token count that agree. At the sequence's end (max tokens, a stop text, end of generation) a character left unfinished
/// goes out as U+FFFD, what decoding the model's bytes gives; a hand-back leaves its tokens undelivered, to draw again.</para>
/// </remarks>
internal sealed class LlamaSequence(SequenceSpec spec, LLamaToken[] prompt, LLamaToken[] replay, LLamaSeqId slot, int reused, LlamaTokenText text)
    : IBatchedSequence, IPlannedSequence, IDisposable
{
    /// <summary>The most logits a step draws a resumed sequence's delivered tokens from: llama.cpp keeps a row of the
    /// vocabulary's size for each (128k floats, 0.5 MB, on Llama 3), so a whole chunk of them would hold hundreds of MB
    /// per context.</summary>
    public const int MaxLogitsPerStep = 64;

    private readonly SafeLLamaSamplerChainHandle _sampler = LlamaSampling.Create(spec);
    private readonly int _resumeFrom = Math.Max(0, spec.ResumeFromToken);
    private readonly StopTexts _stops = new(spec);

    private readonly int _reused = reused;

    // Drawn tokens fed back through a decode, in order: after the input, what the slot's KV cells hold.
    private readonly List<LLamaToken> _fed = [];

    // What is prefilled: the prompt, then the delivered tokens of a resume.
    private readonly LLamaToken[] _input = [.. prompt, .. replay];
    private LLamaToken? _pending;

    // Drawn tokens not reported yet: their bytes end in the middle of a character.
    private int _held;

    // The position whose logits the step under way draws from first: a prefill chunk's first from the prompt's last
    // token on, or -1 for a pending token's decode (no delivered token follows it).
    private int _firstLogitsPosition = -1;

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

    public int PromptTokens => prompt.Length;

    public int CachedPromptTokens => _reused;

    /// <summary>False once the sequence left the batch; a step under way then drops what it computed for it.</summary>
    public bool Active { get; private set; } = true;

    /// <summary>Input tokens (prompt, then a resume's delivered tokens) in the KV cache, the reused ones included.</summary>
    public int Prefilled { get; private set; } = reused;

    public int PrefillRemaining => _input.Length - Prefilled;

    /// <summary>True when a sampled token waits to be fed: the sequence decodes one token in the next step.</summary>
    public bool Decoding => _pending is not null;

    /// <summary>Steps in a row whose decode call llama.cpp refused for want of KV cells while it held this sequence's
    /// pending token; 0 again once that token decodes.</summary>
    public int RefusedSteps { get; private set; }

    /// <summary>Tokens drawn so far, resumed ones included: the index of the next.</summary>
    public int NextTokenIndex { get; private set; }

    /// <summary>Length or stop once the sequence is done, else null.</summary>
    public FinishReason? EndReason { get; private set; }

    /// <summary>Adds the sampled token to <paramref name="batch"/>; returns the batch index whose logits draw the next.</summary>
    public int AddDecode(LLamaBatch batch)
    {
        _firstLogitsPosition = -1;
        return batch.Add(_pending!.Value, _input.Length + _fed.Count, slot, logits: true);
    }

    /// <summary>The part of a planned prefill <paramref name="chunk"/> that asks for at most <see cref="MaxLogitsPerStep"/>
    /// logits (the prompt's last token and the delivered tokens after it).</summary>
    public int CapPrefill(int chunk) => Math.Min(chunk, Math.Max(prompt.Length - 1 - Prefilled, 0) + MaxLogitsPerStep);

    /// <summary>Adds <paramref name="tokens"/> input tokens to <paramref name="batch"/>, from <paramref name="from"/> past
    /// the prefilled ones (a step's chunk may run in several calls, <see cref="StepPlan.MicroBatchTokens"/>), with logits
    /// at every position from the prompt's last token on (each draws the token after it); returns the batch index of the
    /// first such position and how many there are. The step's draws, over its calls in order, are from the chunk's first
    /// such position on.</summary>
    public (int FirstLogits, int Logits) AddPrefill(LLamaBatch batch, int from, int tokens)
    {
        var start = Prefilled + from;
        var firstLogits = -1;
        for (var position = start; position < start + tokens; position++)
        {
            var logits = position >= prompt.Length - 1;
            var index = batch.Add(_input[position], position, slot, logits);
            firstLogits = logits && firstLogits < 0 ? index : firstLogits;
        }

        if (firstLogits < 0)
        {
            return (-1, 0);
        }

        _firstLogitsPosition = Math.Max(Prefilled, prompt.Length - 1);
        return (firstLogits, start + tokens - Math.Max(start, prompt.Length - 1));
    }

    /// <summary>Draws from the logits at <paramref name="logits"/> consecutive batch indexes from
    /// <paramref name="firstIndex"/> of the decode just done (a pending token's one, or a prefill chunk's), in order.</summary>
    public List<LLamaToken> Draw(SafeLLamaContextHandle context, int firstIndex, int logits) =>
        [.. Enumerable.Range(firstIndex, logits).Select(index => _sampler.Sample(context, index))];

    /// <summary>Records that the step's decode took in this sequence's part: <paramref name="prefillChunk"/> input
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
            RefusedSteps = 0;
        }
    }

    /// <summary>Records that llama.cpp refused the step's call holding this sequence's pending token for want of KV cells:
    /// the token waits for the next step.</summary>
    public void Refused() => RefusedSteps++;

    /// <summary>Takes the step's draws (<see cref="Draw"/>) after its part was decoded, in order: where a delivered token
    /// follows the draw's position, that token (the client has it, whatever was drawn), already in the input; else the
    /// draw, numbered from the delivered count once the last delivered token is in. Returns what to report.</summary>
    public List<SequenceTokens> Accept(List<LLamaToken> draws, SafeLlamaModelHandle.Vocabulary vocabulary)
    {
        var tokens = new List<SequenceTokens>();
        for (var i = 0; i < draws.Count && EndReason is null; i++)
        {
            var delivered = _firstLogitsPosition >= 0 && _firstLogitsPosition + i + 1 < _input.Length;
            if (Accept(delivered ? _input[_firstLogitsPosition + i + 1] : draws[i], vocabulary) is { } reported)
            {
                tokens.Add(reported);
            }

            if (delivered)
            {
                // In the input (fed by this chunk or the next), not a token to feed. The delivered text may be fewer of
                // the model's tokens than the client counted (its tokenizer merged pieces the model drew apart).
                _pending = null;
                if (_firstLogitsPosition + i + 2 == _input.Length)
                {
                    NextTokenIndex = Math.Max(NextTokenIndex, _resumeFrom);
                }
            }
        }

        return tokens;
    }

    /// <summary>Takes a drawn token: ends the sequence on the model's end of generation, a stop text or max tokens,
    /// and returns what to report: the token with those held before it, once its bytes end on a whole character or the
    /// sequence ends; nothing while they do not, nor for tokens delivered before a resume, nor for the end-of-generation
    /// token itself.</summary>
    private SequenceTokens? Accept(LLamaToken token, SafeLlamaModelHandle.Vocabulary vocabulary)
    {
        if (token.IsEndOfGeneration(vocabulary))
        {
            EndReason = FinishReason.Stop;
            return Report(text.Flush());
        }

        var completed = text.Add(token);
        NextTokenIndex++;
        _held++;
        _pending = token;
        if (NextTokenIndex >= spec.MaxTokens)
        {
            EndReason = FinishReason.Length;
        }

        if (_stops.Append(completed))
        {
            EndReason = FinishReason.Stop;
        }

        return EndReason is not null ? Report(completed + text.Flush())
            : text.Incomplete ? null
            : Report(completed);
    }

    /// <summary>The held tokens as one chunk of <paramref name="completed"/>, but for those delivered before a resume;
    /// null when none is left.</summary>
    private SequenceTokens? Report(string completed)
    {
        var first = Math.Max(NextTokenIndex - _held, _resumeFrom);
        _held = 0;
        return first < NextTokenIndex
            ? new SequenceTokens { SequenceId = Id, FirstTokenIndex = first, Text = completed, TokenCount = NextTokenIndex - first }
            : null;
    }

    /// <summary>Takes the sequence out of the batch; its sampler is freed before the next decode, and its KV cells stay
    /// with its slot as a prefix cache (<see cref="CachedTokens"/>).</summary>
    public void Leave() => Active = false;

    /// <summary>What the slot's KV cells hold from position 0 by the decodes this sequence saw applied: its prefilled
    /// prompt, then (once the prompt is in) the drawn tokens fed back.</summary>
    public LLamaToken[] CachedTokens() => Prefilled < _input.Length ? _input[..Prefilled] : [.. _input, .. _fed];

    public SequenceFinished Finished(FinishReason reason) => new()
    {
        SequenceId = Id,
        Reason = reason,
        CompletionTokens = Math.Max(NextTokenIndex - _held, _resumeFrom),
        PromptTokens = prompt.Length,
        CachedPromptTokens = _reused,
    };

    public void Dispose() => _sampler.Dispose();
}
