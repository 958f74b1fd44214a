namespace Scheduler.Abstractions.Tenants;

/// <summary>Keyed by the SHA-256 of an API key (never the key itself): which tenant the key belongs to.</summary>
public interface IApiKeyGrain : IGrainWithStringKey
{
    Task<string?> GetTenant();

    /// <summary>The tenant the key is bound to, as <see cref="GetTenant"/> answers, without counting a use
    /// (<see cref="LastUsed"/>): for checking the binding, not for authenticating a caller.</summary>
    Task<string?> Holder();

    /// <summary>Binds the key to the tenant, unless another tenant holds it: false then, and the key stays that
    /// tenant's.</summary>
    Task<bool> Assign(string tenantId);

    Task Revoke(string tenantId);

    /// <summary>When a silo last looked the key up (it does so at most once per its key cache time), since this grain
    /// was activated; null if not since.</summary>
    Task<DateTimeOffset?> LastUsed();
}
