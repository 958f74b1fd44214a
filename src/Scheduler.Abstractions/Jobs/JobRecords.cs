using Scheduler.Policies;

namespace Scheduler.Abstractions.Jobs;

// The records a job's grain calls carry are [Immutable]: none is changed once made (a change is a `with` copy, and
// their arrays are never written after construction), so a call within a silo hands them over as they are instead of
// deep-copying them, the prompt's token ids included, at every hop. Their wire format is unchanged.

/// <summary>What a tenant asked for, validated and counted by the front door. <see cref="FitMaxTokens"/>: the client
/// set no max_tokens, so <see cref="MaxTokens"/> is the door's default (already fitted to the model's context), which
/// the tenant lowers to what its tokens_per_minute quota leaves after the prompt rather than refuse the job for a
/// max_tokens nobody asked for.</summary>
[GenerateSerializer, Immutable, Alias("scheduler.JobRequest")]
public sealed record JobRequest(
    [property: Id(0)] string Model,
    [property: Id(1)] string? Prompt,
    [property: Id(2)] int[]? PromptTokenIds,
    [property: Id(3)] int PromptTokens,
    [property: Id(4)] int MaxTokens,
    [property: Id(5)] JobPriority Priority,
    [property: Id(6)] double TtftObjectiveMs,
    [property: Id(7)] string? IdempotencyKey,
    [property: Id(8)] string? Stop,
    [property: Id(9)] string? TraceParent,
    [property: Id(10)] DateTimeOffset? Deadline = null,
    [property: Id(11)] JobSampling? Sampling = null,
    [property: Id(12)] string[]? StopSequences = null,
    [property: Id(13)] JobMessage[]? Messages = null,
    [property: Id(14)] string? SessionId = null,
    [property: Id(15)] bool FitMaxTokens = false)
{
    /// <summary>The forms an engine may take the prompt in: a chat job carries its turns and their rendering as text; a
    /// prompt of neither text nor token ids is known by its length only.</summary>
    public PromptForms PromptForms
    {
        get
        {
            var forms = (Messages is { Length: > 0 } ? PromptForms.Messages : PromptForms.None)
                | (PromptTokenIds is { Length: > 0 } ? PromptForms.TokenIds : PromptForms.None)
                | (!string.IsNullOrEmpty(Prompt) ? PromptForms.Text : PromptForms.None);
            return forms == PromptForms.None ? PromptForms.Length : forms;
        }
    }
}

/// <summary>One turn of a chat job. The job's <see cref="JobRequest.Prompt"/> is the chat rendered by the model
/// catalog's template; the turns travel with it so that an engine with a template of its own (a GGUF's, an upstream
/// chat endpoint) can render them itself.</summary>
[GenerateSerializer, Immutable, Alias("scheduler.JobMessage")]
public sealed record JobMessage(
    [property: Id(0)] string Role,
    [property: Id(1)] string Content);

/// <summary>How a job's tokens are sampled; a null field takes the engine's default.</summary>
[GenerateSerializer, Immutable, Alias("scheduler.JobSampling")]
public sealed record JobSampling(
    [property: Id(0)] float? Temperature,
    [property: Id(1)] float? TopP,
    [property: Id(2)] int? TopK,
    [property: Id(3)] ulong? Seed);

/// <summary>A queued job as the placement grain holds it: enough to rank, place and (re)dispatch it.
/// <see cref="HandBacks"/>: how many times an engine failed it and handed it back, journaled with each such hand-back,
/// so a placement rebuilt after a failover goes on counting towards <c>PlacementOptions.MaxHandBacks</c>;
/// <see cref="LastHandBackError"/> is the last one's reason (an upstream's message), which the job's record shows.
/// <see cref="FirstAdmittedAt"/> and <see cref="FirstTokenAt"/>: when an earlier run of a re-queued job was first admitted
/// and first delivered a token (null until then); the job's queue time and TTFT are measured to them.
/// <see cref="Requeues"/>: how many times it went back to its queue from a replica that had it, whatever the reason (its
/// node lost, its engine failed or refused it, it was preempted); <see cref="LastRequeue"/> says from where and why the
/// last time. The placement journals the ticket with every such return, before the job is admitted again, so a
/// placement rebuilt after a failover shows every one (and resumes the job where the last one left it).</summary>
[GenerateSerializer, Immutable, Alias("scheduler.JobTicket")]
public sealed record JobTicket(
    [property: Id(0)] string JobId,
    [property: Id(1)] string TenantId,
    [property: Id(2)] JobRequest Request,
    [property: Id(3)] DateTimeOffset SubmittedAt,
    [property: Id(4)] IJobEventSink[] Watchers,
    [property: Id(5)] double TenantWeight,
    [property: Id(6)] int ResumeFromToken = 0,
    [property: Id(7)] DeliveredOutput? Delivered = null,
    [property: Id(8)] int HandBacks = 0,
    [property: Id(9)] string? LastHandBackError = null,
    [property: Id(10)] DateTimeOffset? FirstAdmittedAt = null,
    [property: Id(11)] DateTimeOffset? FirstTokenAt = null,
    [property: Id(12)] int Requeues = 0,
    [property: Id(13)] string? LastRequeue = null);

/// <summary>The output a re-dispatched job had already delivered: a resumed run continues after it, and the job's
/// record ends up with the whole text.</summary>
/// <param name="Text">The tokens' text, concatenated.</param>
/// <param name="TokenEnds">For each token, the length of <paramref name="Text"/> up to its end.</param>
[GenerateSerializer, Immutable, Alias("scheduler.DeliveredOutput")]
public sealed record DeliveredOutput(
    [property: Id(0)] string Text,
    [property: Id(1)] int[] TokenEnds);

/// <summary>Where a job runs.</summary>
[GenerateSerializer, Immutable, Alias("scheduler.JobPlacement")]
public sealed record JobPlacement(
    [property: Id(0)] string ReplicaId,
    [property: Id(1)] string AcceleratorId,
    [property: Id(2)] string Product,
    [property: Id(3)] string NodeId,
    [property: Id(4)] int RunningSequencesAtAdmission);

/// <summary>Measured usage of a finished job. <see cref="PromptTokensSource"/>: who counted
/// <see cref="PromptTokens"/> (the engine, or the scheduler's count standing in for it).</summary>
[GenerateSerializer, Immutable, Alias("scheduler.JobUsage")]
public sealed record JobUsage(
    [property: Id(0)] int PromptTokens,
    [property: Id(1)] int CompletionTokens,
    [property: Id(2)] double CostUsd,
    [property: Id(3)] double QueueMs,
    [property: Id(4)] double TtftMs,
    [property: Id(5)] double TotalMs,
    [property: Id(6)] int CachedPromptTokens = 0,
    [property: Id(7)] PromptTokenSource PromptTokensSource = PromptTokenSource.Unknown)
{
    /// <summary>The job ended in its queue without running (cancelled or expired there): it used nothing, and its
    /// outcome measures only its wait (<see cref="QueueMs"/>), so it counts in no usage and no latency.</summary>
    public bool NeverRan => TotalMs <= 0;
}

public enum JobStatus
{
    Queued = 1,
    Running = 2,
    Completed = 3,
    Failed = 4,
    Cancelled = 5,

    /// <summary>Expired in the queue: it could no longer make its deadline, so it never ran.</summary>
    Expired = 6,
}

/// <summary>How a job ended, reported once by the node connection that ran it (or the placement that expired it).</summary>
[GenerateSerializer, Immutable, Alias("scheduler.JobOutcome")]
public sealed record JobOutcome(
    [property: Id(0)] JobStatus Status,
    [property: Id(1)] string FinishReason,
    [property: Id(2)] JobUsage Usage,
    [property: Id(3)] string Output,
    [property: Id(4)] string? Error,
    [property: Id(5)] int[] TokenEnds)
{
    /// <summary>A job cancelled at <paramref name="now"/> while it waited in its queue: nothing ran for it (a handed-back
    /// one's earlier runs are not charged either); its usage has only its wait, as an expired job's has.</summary>
    public static JobOutcome CancelledInQueue(JobTicket ticket, DateTimeOffset now) =>
        new(JobStatus.Cancelled, JobFinishReasons.Cancelled, new JobUsage(0, 0, 0, (now - ticket.SubmittedAt).TotalMilliseconds, 0, 0), string.Empty, null, []);
}

/// <summary>A job as <c>GetJob</c> shows it. <see cref="CancelRequested"/>: the job was running when cancellation was
/// asked for, and its node has not confirmed yet (the API shows it as cancelling). <see cref="HandBacks"/>: how many
/// times an engine failed the job and handed it back to be resumed elsewhere; <see cref="LastHandBackError"/> is the
/// last one's reason (an upstream's message), shown while the job waits to run again. <see cref="Requeues"/> and
/// <see cref="LastRequeue"/>: how many times it went back to its queue from a replica for any reason (a node lost too),
/// and from where and why the last time.</summary>
[GenerateSerializer, Immutable, Alias("scheduler.JobSnapshot")]
public sealed record JobSnapshot(
    [property: Id(0)] string JobId,
    [property: Id(1)] string TenantId,
    [property: Id(2)] string Model,
    [property: Id(3)] JobStatus Status,
    [property: Id(4)] int PromptTokens,
    [property: Id(5)] int MaxTokens,
    [property: Id(6)] JobPriority Priority,
    [property: Id(7)] DateTimeOffset SubmittedAt,
    [property: Id(8)] JobPlacement? Placement,
    [property: Id(9)] JobUsage? Usage,
    [property: Id(10)] string? Output,
    [property: Id(11)] string? Error,
    [property: Id(12)] string? FinishReason,
    [property: Id(13)] int[]? TokenEnds,
    [property: Id(14)] DateTimeOffset? Deadline = null,
    [property: Id(15)] bool CancelRequested = false,
    [property: Id(16)] int HandBacks = 0,
    [property: Id(17)] string? LastHandBackError = null,
    [property: Id(18)] PromptTokenSource PromptTokensSource = PromptTokenSource.Unknown,
    [property: Id(19)] int Requeues = 0,
    [property: Id(20)] string? LastRequeue = null)
{
    /// <summary>The output from token <paramref name="fromToken"/> on (token boundaries are kept for resuming).</summary>
    public string OutputFrom(int fromToken) =>
        fromToken <= 0 || TokenEnds is null || TokenEnds.Length == 0 ? Output ?? ""
        : fromToken >= TokenEnds.Length ? ""
        : (Output ?? "")[TokenEnds[fromToken - 1]..];

    /// <summary>The text of token <paramref name="token"/>, when the record kept token boundaries; null otherwise.</summary>
    public string? TokenText(int token) =>
        TokenEnds is { } ends && token >= 0 && token < ends.Length && Output is { } output
            ? output[(token == 0 ? 0 : ends[token - 1])..ends[token]]
            : null;

    public bool IsTerminal => Status is JobStatus.Completed or JobStatus.Failed or JobStatus.Cancelled or JobStatus.Expired;

    /// <summary>The terminal event of a job that already ended, for a stream that attaches late.</summary>
    public JobEventRecord TerminalEvent(DateTimeOffset at) => JobEventRecord.Terminal(JobId, Status, at, Usage, FinishReason, Error);

    /// <summary>A job as its ticket shows it: queued, not placed, nothing generated, with the hand-backs and re-queues
    /// the ticket counts (none for a job just accepted).</summary>
    public static JobSnapshot Queued(JobTicket t) => new(
        t.JobId, t.TenantId, t.Request.Model, JobStatus.Queued, t.Request.PromptTokens, t.Request.MaxTokens,
        t.Request.Priority, t.SubmittedAt, null, null, null, null, null, null, t.Request.Deadline,
        HandBacks: t.HandBacks, LastHandBackError: t.LastHandBackError, PromptTokensSource: PromptTokenSources.Of(t.Request),
        Requeues: t.Requeues, LastRequeue: t.LastRequeue);
}
