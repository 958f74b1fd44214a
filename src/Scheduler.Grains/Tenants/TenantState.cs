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
    [Id(5)] public int Queued { get; set; }
    [Id(6)] public int Running { get; set; }

    /// <summary>Idempotency key → job id, oldest first.</summary>
    [Id(7)] public Dictionary<string, string> IdempotencyKeys { get; set; } = new(StringComparer.Ordinal);
    [Id(8)] public Queue<string> IdempotencyOrder { get; set; } = new();
}
