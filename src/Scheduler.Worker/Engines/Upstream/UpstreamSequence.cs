using System.Globalization;
using Scheduler.Protos.V1;

namespace Scheduler.Worker.Engines.Upstream;

/// <summary>
/// One sequence an upstream replica forwards: the request it sends, the cancellation that aborts it, and the tokens it
/// delivered. Each text chunk of the upstream's stream counts as one token (vLLM and Groq send one token per chunk,
/// except where a character spans tokens); the upstream's final usage corrects the count.
/// </summary>
/// <remarks>
/// A sequence resumed after a re-dispatch continues after the delivered text when the scheduler sent it and the prompt
/// is text: the upstream gets prompt plus that text and generates what <c>max_tokens</c> leaves. Otherwise (a chat, a
/// prompt in token ids, an upstream without completions) the upstream generates from the start again and the first
/// <c>resume_from_token</c> counted tokens are dropped, as the llama.cpp engine replays them: with a seed on a
/// deterministic upstream that is the same text; without one the continuation may not match what was delivered.
/// </remarks>
internal sealed class UpstreamSequence : IBatchedSequence
{
    private readonly int _resumeFrom;

    // Chunks of this request that repeat tokens delivered before the resume, dropped.
    private readonly int _replay;
    private int _received;

    public UpstreamSequence(SequenceSpec spec, UpstreamRequest request, long kvTokens)
    {
        Spec = spec;
        Request = request;
        KvTokens = kvTokens;
        _resumeFrom = Math.Max(0, spec.ResumeFromToken);
        _replay = request.ContinuesAfterDelivered ? 0 : _resumeFrom;
        NextTokenIndex = _resumeFrom;
    }

    public SequenceSpec Spec { get; }

    public string Id => Spec.SequenceId;

    public string TraceParent => Spec.Traceparent;

    public double FairRank => Spec.FairRank;

    public UpstreamRequest Request { get; }

    public long KvTokens { get; }

    /// <summary>The scheduler's count: the upstream's own comes only with its usage, at the end.</summary>
    public int PromptTokens => SchedulerPromptTokens.Of(Spec);

    /// <summary>0: an upstream server does not say what its prefix cache held.</summary>
    public int CachedPromptTokens => 0;

    /// <summary>Aborts the upstream request when the sequence leaves the batch. Not disposed: a source without timers or
    /// links holds nothing to free, and Leave may race the request's end.</summary>
    public CancellationTokenSource Cancellation { get; } = new();

    /// <summary>False once the sequence left the batch: what its request still brings is dropped.</summary>
    public bool Active { get; private set; } = true;

    /// <summary>Index of the next token, which is also the number delivered so far, resumed ones included.</summary>
    public int NextTokenIndex { get; private set; }

    /// <summary>Tokens delivered by this request (not before a resume).</summary>
    public int Delivered => NextTokenIndex - _resumeFrom;

    /// <summary>What this request's stream brought, in tokens: for a chat resumed by regenerating, "after 0 tokens"
    /// would read as an upstream that sent nothing when it sent again the tokens delivered before.</summary>
    public string ReceivedSoFar => _received <= Delivered
        ? string.Create(CultureInfo.InvariantCulture, $"{Delivered} tokens")
        : string.Create(CultureInfo.InvariantCulture,
            $"{_received} tokens ({Math.Min(_received, _replay)} of them regenerating the {_resumeFrom} delivered before, dropped)");

    /// <summary>Length once max_tokens is reached, else null.</summary>
    public FinishReason? EndReason { get; private set; }

    /// <summary>The upstream's count, when its stream carried one.</summary>
    public UpstreamUsage? Usage { get; set; }

    /// <summary>Takes a chunk's text; returns what to report of it (nothing for a replayed token or an empty text).</summary>
    public SequenceTokens? Accept(string text)
    {
        if (text.Length == 0 || EndReason is not null)
        {
            return null;
        }

        if (++_received <= _replay)
        {
            return null;
        }

        var index = NextTokenIndex++;
        if (NextTokenIndex >= Spec.MaxTokens)
        {
            EndReason = FinishReason.Length;
        }

        return new SequenceTokens { SequenceId = Id, FirstTokenIndex = index, Text = text, TokenCount = 1 };
    }

    /// <summary>The tokens the upstream's usage counts beyond the chunks (several tokens in one chunk), as a chunk with no
    /// text, so the job's usage is the upstream's; null when there are none.</summary>
    public SequenceTokens? Uncounted()
    {
        var counted = _received - _replay;
        if (Usage is not { } usage || usage.CompletionTokens - _replay <= counted || EndReason is not null)
        {
            return null;
        }

        var extra = Math.Min(usage.CompletionTokens - _replay - counted, Spec.MaxTokens - NextTokenIndex);
        if (extra <= 0)
        {
            return null;
        }

        var tokens = new SequenceTokens { SequenceId = Id, FirstTokenIndex = NextTokenIndex, Text = "", TokenCount = extra };
        NextTokenIndex += extra;
        return tokens;
    }

    /// <summary>Takes the sequence out of the batch and aborts its request.</summary>
    public void Leave()
    {
        Active = false;
        Cancellation.Cancel();
    }

    /// <summary>A prompt count from the upstream is the prompt's own only when nothing delivered was appended to it.</summary>
    public SequenceFinished Finished(FinishReason reason) => new()
    {
        SequenceId = Id,
        Reason = reason,
        CompletionTokens = NextTokenIndex,
        PromptTokens = Usage is { } usage && !Request.ContinuesAfterDelivered ? usage.PromptTokens : 0,
    };
}
