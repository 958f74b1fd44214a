namespace Scheduler.Abstractions.Tenants;

/// <summary>One of a tenant's API keys as it is listed: never the secret, only the hash it is looked up by.</summary>
/// <param name="KeyId">Names the key for listing and revoking; also the start of the key itself (its prefix).</param>
/// <param name="Prefix">The first characters of the key, enough for a person to tell which key a client holds.</param>
/// <param name="Hash">SHA-256 of the key (<see cref="ApiKeyHash"/>), the id of its <see cref="IApiKeyGrain"/>.</param>
/// <param name="CreatedAt">When it was created.</param>
[GenerateSerializer, Alias("scheduler.TenantApiKey")]
public sealed record TenantApiKey(
    [property: Id(0)] string KeyId,
    [property: Id(1)] string Prefix,
    [property: Id(2)] string Hash,
    [property: Id(3)] DateTimeOffset CreatedAt);

/// <summary>What <see cref="ITenantGrain.AddKey"/> did.</summary>
public enum AddKeyResult
{
    Added = 0,
    UnknownTenant = 1,

    /// <summary>The tenant already holds <see cref="ITenantGrain.MaxKeys"/> keys: revoke one first.</summary>
    TooManyKeys = 2,
}
