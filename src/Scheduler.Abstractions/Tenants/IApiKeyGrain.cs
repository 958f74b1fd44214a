namespace Scheduler.Abstractions.Tenants;

/// <summary>Keyed by the SHA-256 of an API key (never the key itself): which tenant the key belongs to.</summary>
public interface IApiKeyGrain : IGrainWithStringKey
{
    Task<string?> GetTenant();

    Task Assign(string tenantId);

    Task Revoke(string tenantId);
}
