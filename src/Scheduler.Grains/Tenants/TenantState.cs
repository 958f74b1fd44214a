using Scheduler.Abstractions.Tenants;

namespace Scheduler.Grains.Tenants;

[GenerateSerializer, Alias("scheduler.TenantState")]
public sealed class TenantState
{
    [Id(0)] public bool Exists { get; set; }
    [Id(1)] public double Weight { get; set; } = 1;
    [Id(2)] public TenantQuotas Quotas { get; set; } = TenantQuotas.Default;
    [Id(3)] public string? ApiKeyHash { get; set; }
    [Id(4)] public TenantUsage Usage { get; set; } = TenantUsage.Empty;

    // Ids 5 and 6 held queued and running counters, which drifted when notices crossed; they are not reused, and a
    // state stored with them reads as having no unfinished jobs.

    /// <summary>Idempotency key → job id, as an earlier version stored them (with <see cref="IdempotencyOrder"/> and
    /// <see cref="IdempotencyFingerprints"/>). Keys now live one by one in <see cref="IIdempotencyKeys"/>; a tenant
    /// activated with keys here moves them there and empties these.</summary>
    [Id(7)] public Dictionary<string, string> IdempotencyKeys { get; set; } = new(StringComparer.Ordinal);
    [Id(8)] public Queue<string> IdempotencyOrder { get; set; } = new();

    /// <summary>The unfinished jobs, queued or running.</summary>
    [Id(9)] public TenantJobs Jobs { get; set; } = new();

    /// <summary>Idempotency key → fingerprint of the request it was first used with (<see cref="RequestFingerprint"/>).
    /// Keys stored before fingerprints were kept have none, and match any request as they always did.</summary>
    [Id(10)] public Dictionary<string, string> IdempotencyFingerprints { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Keys added with <see cref="ITenantGrain.AddKey"/>, oldest first (the configured key is
    /// <see cref="ApiKeyHash"/>).</summary>
    [Id(11)] public List<TenantApiKey> Keys { get; set; } = [];

    /// <summary>When the configured key was set; null for one set before this was kept.</summary>
    [Id(12)] public DateTimeOffset? ApiKeySetAt { get; set; }

    /// <summary>When the activation that wrote this state took it, by its silo's clock (the clock that dates its jobs'
    /// acceptance); null for a state written before this was kept. A state stored before <see cref="Submissions"/> was
    /// kept counts the jobs accepted after it as missing.</summary>
    [Id(13)] public DateTimeOffset? WrittenAt { get; set; }

    /// <summary>Which accepted jobs <see cref="Jobs"/> and <see cref="Usage"/> account for: the index's jobs of the tenant
    /// beyond them are missing when a silo died before its next write.</summary>
    [Id(14)] public CountedSubmissions Submissions { get; set; } = new();
}
