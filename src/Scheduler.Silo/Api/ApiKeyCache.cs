using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Scheduler.Abstractions.Tenants;

namespace Scheduler.Silo.Api;

/// <summary>
/// Remembers which tenant a valid API key belongs to for a short while, so authenticating a call usually costs
/// no grain call. The price is that a replaced or revoked key keeps working on this silo for up to
/// <see cref="ApiOptions.ApiKeyCacheSeconds"/> (the silo that revokes a key forgets it at once). Unknown keys are never
/// cached.
/// </summary>
internal sealed class ApiKeyCache(IGrainFactory grains, IOptions<ApiOptions> options, TimeProvider time)
{
    // Bounded so that a flood of distinct valid keys cannot grow it without limit; when full it starts over.
    private const int MaxEntries = 100_000;
    private readonly ConcurrentDictionary<string, (string Tenant, DateTimeOffset Expires)> _entries = new(StringComparer.Ordinal);
    private readonly TimeSpan _ttl = TimeSpan.FromSeconds(options.Value.ApiKeyCacheSeconds);

    public async ValueTask<string?> TenantFor(string apiKey)
    {
        var hash = ApiKeyHash.Of(apiKey);
        var now = time.GetUtcNow();
        if (_entries.TryGetValue(hash, out var entry) && entry.Expires > now)
        {
            return entry.Tenant;
        }

        var tenant = await grains.GetGrain<IApiKeyGrain>(hash).GetTenant();
        if (tenant is null)
        {
            _entries.TryRemove(hash, out _);
            return null;
        }

        if (_ttl > TimeSpan.Zero)
        {
            if (_entries.Count >= MaxEntries)
            {
                _entries.Clear();
            }

            _entries[hash] = (tenant, now + _ttl);
        }

        return tenant;
    }

    /// <summary>Whether this silo found <paramref name="apiKey"/> valid before and has not seen it fail since (its cache
    /// entry may have expired): such a key is let past the <see cref="AuthFailureGuard"/> of a blocked address.</summary>
    public bool WasValid(string apiKey) => _entries.ContainsKey(ApiKeyHash.Of(apiKey));

    /// <summary>Stops trusting the key with this hash on this silo.</summary>
    public void Forget(string hash) => _entries.TryRemove(hash, out _);
}
