namespace Scheduler.Abstractions.Tenants;

[GenerateSerializer, Alias("scheduler.TenantQuotas")]
public sealed record TenantQuotas(
    [property: Id(0)] int MaxQueuedJobs,
    [property: Id(1)] int RequestsPerMinute,
    [property: Id(2)] long TokensPerMinute)
{
    /// <summary>Applied where a tenant sets none.</summary>
    public static TenantQuotas Default { get; } = new(1000, 0, 0);

    /// <summary>The queue bound in force: <see cref="MaxQueuedJobs"/> of 0 means the default bound, not none.</summary>
    public int QueueBound => MaxQueuedJobs > 0 ? MaxQueuedJobs : Default.MaxQueuedJobs;
}

[GenerateSerializer, Alias("scheduler.TenantUsage")]
public sealed record TenantUsage(
    [property: Id(0)] long PromptTokens,
    [property: Id(1)] long CompletionTokens,
    [property: Id(2)] double CostUsd,
    [property: Id(3)] long JobsSubmitted,
    [property: Id(4)] long JobsCompleted,
    [property: Id(5)] long JobsFailed,
    [property: Id(6)] long JobsCancelled,
    [property: Id(7)] long JobsExpired = 0)
{
    public static TenantUsage Empty { get; } = new(0, 0, 0, 0, 0, 0, 0);
}

/// <summary>What an operator sets on a tenant. A null <see cref="ApiKey"/> keeps the current key.</summary>
[GenerateSerializer, Alias("scheduler.TenantSettings")]
public sealed record TenantSettings(
    [property: Id(0)] double Weight,
    [property: Id(1)] TenantQuotas Quotas,
    [property: Id(2)] string? ApiKey)
{
    /// <summary>The least weight a tenant may have. The fair queue charges a job its service divided by its tenant's
    /// weight, so a weight near zero would drive that tenant's counter to infinity within a few jobs (and every
    /// comparison with it to a tie); a million to one between the lightest and the heaviest tenant is range enough.</summary>
    public const double MinWeight = 0.001;

    /// <summary>The greatest weight a tenant may have (see <see cref="MinWeight"/>).</summary>
    public const double MaxWeight = 1000;

    /// <summary>Whether <paramref name="weight"/> is one a tenant may have: finite, in [<see cref="MinWeight"/>,
    /// <see cref="MaxWeight"/>].</summary>
    public static bool IsValidWeight(double weight) => weight is >= MinWeight and <= MaxWeight;
}

/// <summary>What <see cref="ITenantGrain.Put"/> did: the tenant as stored; or, when the key it was given is another
/// tenant's, nothing at all (<see cref="KeyInUse"/>, <see cref="Tenant"/> null).</summary>
[GenerateSerializer, Alias("scheduler.PutTenantResult")]
public sealed record PutTenantResult(
    [property: Id(0)] TenantInfo? Tenant,
    [property: Id(1)] bool KeyInUse = false);

[GenerateSerializer, Alias("scheduler.TenantInfo")]
public sealed record TenantInfo(
    [property: Id(0)] string TenantId,
    [property: Id(1)] double Weight,
    [property: Id(2)] TenantQuotas Quotas,
    [property: Id(3)] int QueuedJobs,
    [property: Id(4)] int RunningJobs,
    [property: Id(5)] TenantUsage Usage);

public enum SubmitRejection
{
    None = 0,
    UnknownTenant = 1,
    QueueFull = 2,

    /// <summary>Over the requests/min or tokens/min quota.</summary>
    RateLimited = 3,

    /// <summary>A sheddable job while its model's queue is over the overload threshold.</summary>
    Shed = 4,

    /// <summary>The idempotency key already names a job submitted with a different request.</summary>
    IdempotencyKeyReused = 5,
}

/// <summary>The answer to a submission: the job (new, or the earlier one with the same idempotency key), or why not.
/// A refusal the tenant may retry carries <see cref="RetryAfter"/>; a <see cref="SubmitRejection.RateLimited"/> without
/// it is a job larger than its tenant's quota admits in a minute, which no retry can pass. A rate-limited refusal names
/// its <see cref="Quota"/> (requests_per_minute, tokens_per_minute; null from a silo of a version before it was set)
/// and that quota's per-minute <see cref="QuotaLimit"/> (a refusal by max_queued_jobs, its <see cref="SubmitRejection.QueueFull"/>,
/// names that quota and its limit too). An accepted job and a refusal by a quota carry where the tenant then stands
/// against its per-minute quotas, <see cref="Requests"/> and <see cref="Tokens"/> (null for a quota it does not have),
/// which the OpenAI door sends as OpenAI's <c>x-ratelimit-*</c> headers: the tenant grain knows them at no extra call.</summary>
[GenerateSerializer, Immutable, Alias("scheduler.SubmitResult")]
public sealed record SubmitResult(
    [property: Id(0)] Jobs.JobSnapshot? Job,
    [property: Id(1)] SubmitRejection Rejection,
    [property: Id(2)] string? Message,
    [property: Id(3)] bool Duplicate = false,
    [property: Id(4)] int QueuePosition = 0,
    [property: Id(5)] TimeSpan? RetryAfter = null,
    [property: Id(6)] string? Quota = null,
    [property: Id(7)] long QuotaLimit = 0,
    [property: Id(8)] QuotaHeadroom? Requests = null,
    [property: Id(9)] QuotaHeadroom? Tokens = null);

/// <summary>Where a tenant stands against one per-minute quota: its <see cref="Limit"/>, what is left of it now
/// (<see cref="Remaining"/>) and how long until it is whole again (<see cref="Reset"/>), as OpenAI's x-ratelimit
/// headers say it.</summary>
[GenerateSerializer, Immutable, Alias("scheduler.QuotaHeadroom")]
public sealed record QuotaHeadroom(
    [property: Id(0)] long Limit,
    [property: Id(1)] long Remaining,
    [property: Id(2)] TimeSpan Reset);
