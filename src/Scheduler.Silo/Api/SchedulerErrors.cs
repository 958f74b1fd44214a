using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;
using Scheduler.Grains;
using Scheduler.Protos.Errors;
using StackExchange.Redis;
using Status = Grpc.Core.Status;

namespace Scheduler.Silo.Api;

/// <summary>
/// The one place domain failures become gRPC statuses. Handlers throw these; <see cref="ErrorInterceptor"/>
/// turns anything else into INTERNAL without leaking details.
/// </summary>
/// <remarks>Besides the message, the refusals a client acts on carry the standard rich error model
/// (<c>google.rpc.Status</c> in the <c>grpc-status-details-bin</c> trailer, as Google's APIs send it, AIP-193), which
/// every gRPC language reads without parsing text: INVALID_ARGUMENT a <c>BadRequest</c> naming the field, NOT_FOUND a
/// <c>ResourceInfo</c>, FAILED_PRECONDITION a <c>PreconditionFailure</c>, RESOURCE_EXHAUSTED with a hint a
/// <c>RetryInfo</c>.</remarks>
internal static class SchedulerErrors
{
    private const int MaxEcho = 64;
    private const string RetryAfterTrailer = "retry-after-ms";

    public static RpcException InvalidArgument(string field, string problem) => RichErrors.InvalidArgument(field, problem);

    /// <summary>NOT_FOUND of <paramref name="what"/> <paramref name="id"/>, and <paramref name="why"/> it may be missing.</summary>
    public static RpcException NotFound(string what, string id, string? why = null) => RichErrors.With(
        StatusCode.NotFound,
        why is null ? $"{what} '{Echo(id)}' not found" : $"{what} '{Echo(id)}' not found: {why}",
        new ResourceInfo { ResourceType = what, ResourceName = Echo(id), Description = "not found" });

    /// <summary>A request that cannot pass while the system is as it is (it may once it changes), with a
    /// <c>PreconditionFailure</c> whose violation is of <paramref name="type"/> about <paramref name="subject"/> (the
    /// request field or the resource it is about).</summary>
    public static RpcException FailedPrecondition(string type, string subject, string detail) => RichErrors.With(
        StatusCode.FailedPrecondition,
        detail,
        new PreconditionFailure { Violations = { new PreconditionFailure.Types.Violation { Type = type, Subject = subject, Description = detail } } });

    /// <summary>The <c>ErrorInfo</c> reason of a refusal because the prompt plus max_tokens do not fit what the model can
    /// hold: its context (INVALID_ARGUMENT), or the KV cache of its largest replica (FAILED_PRECONDITION), the most of
    /// that context the scheduler can serve now. A client shortens the prompt or lowers max_tokens for either; OpenAI's
    /// API calls it <c>context_length_exceeded</c>.</summary>
    public const string ContextLengthExceeded = ErrorReasons.ContextLengthExceeded;

    /// <summary><paramref name="refusal"/>, one of the prompt plus max_tokens not fitting (see
    /// <see cref="ContextLengthExceeded"/>), with an <c>ErrorInfo</c> saying so beside its other detail, so a client
    /// (the OpenAI door among them) need not read the message to tell it from other refusals of the prompt.</summary>
    public static RpcException OverContext(RpcException refusal) => WithReason(refusal, ContextLengthExceeded);

    /// <summary>True for a refusal <see cref="OverContext"/> marked.</summary>
    public static bool IsOverContext(RpcException ex) => HasReason(ex, ContextLengthExceeded);

    /// <summary><paramref name="refusal"/>, a RESOURCE_EXHAUSTED of a sheddable job while its model is overloaded, with an
    /// <c>ErrorInfo</c> saying so, so a client can tell the scheduler's load from the tenant's own quotas.</summary>
    public static RpcException Overloaded(RpcException refusal) => WithReason(refusal, ErrorReasons.Overloaded);

    /// <summary>True for a refusal <see cref="Overloaded"/> marked.</summary>
    public static bool IsOverloaded(RpcException ex) => HasReason(ex, ErrorReasons.Overloaded);

    /// <summary>A job larger than its tenant's <paramref name="quota"/> admits in a minute: no wait lets it pass, so it is
    /// not RESOURCE_EXHAUSTED, which generic gRPC retry policies retry with backoff (a refusal without a retry hint was
    /// retried for good), but FAILED_PRECONDITION — gRPC's status guidance for a request that must not be retried until
    /// the system's state changes (here, the quota raised) — with a <c>PreconditionFailure</c> of type QUOTA about
    /// <paramref name="field"/> and an <c>ErrorInfo</c> of reason <see cref="ErrorReasons.LargerThanQuota"/> whose
    /// metadata has the quota, its limit and the tokens requested (AIP-193).</summary>
    public static RpcException LargerThanQuota(string field, string detail, string quota, long limit, long requested) => WithReason(
        FailedPrecondition("QUOTA", field, $"{field}: {detail}"),
        ErrorReasons.LargerThanQuota,
        new() { ["quota"] = quota, ["limit"] = Invariant(limit), ["requested"] = Invariant(requested) });

    /// <summary>A job refused by its tenant's <paramref name="quota"/> (requests_per_minute, tokens_per_minute or
    /// max_queued_jobs) of <paramref name="limit"/> until it refills: RESOURCE_EXHAUSTED with the retry hint
    /// (<see cref="ResourceExhausted"/>) and an <c>ErrorInfo</c> of reason <see cref="ErrorReasons.RateLimitExceeded"/>
    /// naming the quota and its limit; without a quota (a silo of an older version said none) only the first.</summary>
    public static RpcException RateLimited(string detail, TimeSpan? retryAfter, string? quota, long limit) => quota is null
        ? ResourceExhausted(detail, retryAfter)
        : WithReason(ResourceExhausted(detail, retryAfter), ErrorReasons.RateLimitExceeded, new() { ["quota"] = quota, ["limit"] = Invariant(limit) });

    /// <summary>The tenant quota a refusal by <see cref="RateLimited"/> or <see cref="LargerThanQuota"/> names; null for
    /// any other.</summary>
    public static string? QuotaOf(RpcException ex) =>
        ex.GetRpcStatus()?.GetDetail<ErrorInfo>() is { Domain: ErrorReasons.Domain } info && info.Metadata.TryGetValue("quota", out var quota) ? quota : null;

    /// <summary>True for a refusal <see cref="LargerThanQuota"/> made.</summary>
    public static bool IsLargerThanQuota(RpcException ex) => HasReason(ex, ErrorReasons.LargerThanQuota);

    private static string Invariant(long value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static RpcException WithReason(RpcException refusal, string reason, Dictionary<string, string>? metadata = null) =>
        RichErrors.WithReason(refusal, reason, metadata);

    private static bool HasReason(RpcException ex, string reason) => RichErrors.ReasonOf(ex) == reason;

    /// <summary>A client-chosen name already taken by something else — an idempotency key bound to another request (as a
    /// create with a taken id is ALREADY_EXISTS in Google's API design guide, AIP-133; Stripe-like HTTP APIs answer 409).
    /// <paramref name="detail"/> starts with the field ("idempotency_key: …"); an <c>ErrorInfo</c> of
    /// <paramref name="reason"/> (<see cref="ErrorReasons"/>) says which taking it was, so a client in any language tells
    /// a reused idempotency key from other refusals without reading the message.</summary>
    public static RpcException AlreadyExists(string reason, string detail) =>
        WithReason(new RpcException(new Status(StatusCode.AlreadyExists, detail)), reason);

    /// <summary>
    /// A caller's value as an error may quote it: cut short, because the status travels in a response header and a
    /// megabyte-long id echoed back would make the answer itself unreadable (the client's header limit is 64 KB). The cut
    /// never halves a character outside the Basic Multilingual Plane (<see cref="ErrorText.Cut"/>): the ResourceInfo's
    /// resource_name still starts the value it sent.
    /// </summary>
    public static string Echo(string value) => ErrorText.Cut(value, MaxEcho);

    public static RpcException Unauthenticated(string detail) =>
        new(new Status(StatusCode.Unauthenticated, detail));

    public static RpcException PermissionDenied(string detail) =>
        new(new Status(StatusCode.PermissionDenied, detail));

    /// <summary>A job accepted while a silo failed, whose record is not written yet: the same request succeeds once it
    /// is (a resubmission with the same idempotency key finds the same job).</summary>
    public static RpcException RecordPending(string jobId) =>
        new(new Status(StatusCode.Unavailable, $"job '{Echo(jobId)}' was accepted but its record is still being written after a silo failure: retry the same request"));

    /// <summary>
    /// UNAVAILABLE for a failure that is no fault of the request — Redis not answering, a grain call timing out, a silo
    /// failing or handing its grains to the others — since the same call (with the same idempotency key) succeeds in a
    /// moment; null for any other exception.
    /// </summary>
    public static RpcException? Transient(Exception ex) => ex switch
    {
        // A timeout too: tell the operator's client what is down, not that the scheduler is busy.
        _ when IsStorageFailure(ex) =>
            new(new Status(StatusCode.Unavailable, "the scheduler's storage (Redis) does not answer: retry the same request, with its idempotency key")),
        TimeoutException => new(new Status(StatusCode.Unavailable, "the scheduler is busy; retry")),
        _ when SiloFailures.IsTransient(ex) => new(new Status(StatusCode.Unavailable, "a scheduler silo failed or is handing over its work: retry the same request")),
        _ => null,
    };

    /// <summary>True for Redis not answering (unreachable, or a command timing out): a storage outage, not a silo failure.</summary>
    public static bool IsStorageFailure(Exception ex) => ex is RedisException or RedisTimeoutException;

    /// <summary>The field an INVALID_ARGUMENT, FAILED_PRECONDITION or ALREADY_EXISTS built here names ("field: problem"),
    /// for a front door whose errors carry it apart; null when the status names none.</summary>
    public static string? FieldOf(RpcException ex)
    {
        if (ex.StatusCode is not (StatusCode.InvalidArgument or StatusCode.FailedPrecondition or StatusCode.AlreadyExists))
        {
            return null;
        }

        var end = ex.Status.Detail.IndexOf(": ", StringComparison.Ordinal);
        return end > 0 && !ex.Status.Detail.AsSpan(0, end).ContainsAny(' ', '\'') ? ex.Status.Detail[..end] : null;
    }

    /// <summary>The retry hint <see cref="ResourceExhausted"/> attached, in milliseconds.</summary>
    public static long? RetryAfterMs(RpcException ex) =>
        ex.Trailers.GetValue(RetryAfterTrailer) is { } ms && long.TryParse(ms, System.Globalization.CultureInfo.InvariantCulture, out var value) ? value : null;

    /// <summary>The call that carried a submission ended (its client cancelled it, its deadline passed, the
    /// connection broke) before the tenant accepted the job: no job was made, and nobody is left to tell.</summary>
    public static RpcException CallEnded() =>
        new(new Status(StatusCode.Cancelled, "the call ended before the job was accepted: no job was made"));

    private const string DrainingDetail = "this scheduler silo is draining: call another silo; resume a job's stream with WatchJob from the next token";

    /// <summary>This silo is draining: the client should call another silo (and resume a stream with WatchJob).</summary>
    public static RpcException Draining() => new(new Status(StatusCode.Unavailable, DrainingDetail));

    /// <summary>True for the refusal <see cref="Draining"/> makes.</summary>
    public static bool IsDraining(RpcException ex) => ex.StatusCode == StatusCode.Unavailable && ex.Status.Detail == DrainingDetail;

    /// <summary>A refusal by quota or load. With <paramref name="retryAfter"/> the hint travels both in the message and
    /// as a <c>retry-after-ms</c> trailer a client can read; without it (the request could never pass) there is none.</summary>
    public static RpcException ResourceExhausted(string detail, TimeSpan? retryAfter)
    {
        if (retryAfter is not { } wait)
        {
            return new RpcException(new Status(StatusCode.ResourceExhausted, detail));
        }

        // Rounded up: retrying at the hint must not be a few microseconds early.
        var ms = (long)Math.Ceiling(wait.TotalMilliseconds);
        return RichErrors.ResourceExhausted(
            $"{detail}; retry after {ms} ms",
            TimeSpan.FromMilliseconds(ms),
            new Metadata { { RetryAfterTrailer, ms.ToString(System.Globalization.CultureInfo.InvariantCulture) } });
    }
}
