namespace Scheduler.Abstractions.Tenants;

/// <summary>Which of a tenant's settings a put changes (<c>PutTenantRequest.update_mask</c>); the others keep their
/// current values, or take their defaults on a tenant the put creates.</summary>
[Flags]
public enum TenantFields
{
    None = 0,
    Weight = 1,
    MaxQueuedJobs = 2,
    RequestsPerMinute = 4,
    TokensPerMinute = 8,
    Quotas = MaxQueuedJobs | RequestsPerMinute | TokensPerMinute,
    All = Weight | Quotas,
}
