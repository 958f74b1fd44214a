using Microsoft.Extensions.Options;

namespace Scheduler.Grains.Tenants;

/// <summary>
/// The idempotency keys of a single-process scheduler (in-memory state): they outlive tenant activations but not the
/// process, like the in-memory grain storage beside them. Each tenant keeps its keys for their lifetime and at most
/// <see cref="PlacementOptions.IdempotencyKeysPerTenant"/> of them (the oldest are forgotten first), since nothing
/// else bounds this process's memory.
/// </summary>
public sealed class MemoryIdempotencyKeys(IOptions<PlacementOptions> options, TimeProvider time) : IIdempotencyKeys
{
    private readonly Dictionary<string, TenantKeys> _tenants = new(StringComparer.Ordinal);

    public Task<IdempotencyBinding> Claim(string tenantId, string key, IdempotencyBinding binding)
    {
        var keys = Tenant(tenantId);
        lock (keys)
        {
            var now = time.GetUtcNow();
            if (keys.Bindings.TryGetValue(key, out var bound) && bound.Expires > now)
            {
                return Task.FromResult(bound.Binding);
            }

            // Room is made only for a new key, so a key asked for is never forgotten by its own lookup.
            keys.Forget(now, options.Value.IdempotencyKeysPerTenant);
            keys.Add(key, binding, now + options.Value.IdempotencyKeyLifetime);
            return Task.FromResult(binding);
        }
    }

    public Task Bind(string tenantId, string key, IdempotencyBinding binding)
    {
        var keys = Tenant(tenantId);
        lock (keys)
        {
            var now = time.GetUtcNow();
            keys.Forget(now, options.Value.IdempotencyKeysPerTenant);
            keys.Add(key, binding, now + options.Value.IdempotencyKeyLifetime);
        }

        return Task.CompletedTask;
    }

    public Task Release(string tenantId, string key, string jobId)
    {
        var keys = Tenant(tenantId);
        lock (keys)
        {
            if (keys.Bindings.TryGetValue(key, out var bound) && bound.Binding.JobId == jobId)
            {
                keys.Bindings.Remove(key);
            }
        }

        return Task.CompletedTask;
    }

    private TenantKeys Tenant(string tenantId)
    {
        lock (_tenants)
        {
            if (!_tenants.TryGetValue(tenantId, out var keys))
            {
                _tenants[tenantId] = keys = new TenantKeys();
            }

            return keys;
        }
    }

    /// <summary>One tenant's keys and the order they were bound in (a key bound again is listed again; only its
    /// latest listing, the one carrying its current expiry, forgets it).</summary>
    private sealed class TenantKeys
    {
        public Dictionary<string, (IdempotencyBinding Binding, DateTimeOffset Expires)> Bindings { get; } = new(StringComparer.Ordinal);

        private readonly Queue<(string Key, DateTimeOffset Expires)> _order = new();

        public void Add(string key, IdempotencyBinding binding, DateTimeOffset expires)
        {
            Bindings[key] = (binding, expires);
            _order.Enqueue((key, expires));
        }

        /// <summary>Forgets expired keys and, past <paramref name="max"/>, the oldest: each key once, so a claim costs
        /// the same however many keys are held.</summary>
        public void Forget(DateTimeOffset now, int max)
        {
            while (_order.TryPeek(out var oldest) && (oldest.Expires <= now || Bindings.Count >= max || _order.Count > 2 * max))
            {
                _order.Dequeue();
                if (Bindings.TryGetValue(oldest.Key, out var bound) && bound.Expires == oldest.Expires)
                {
                    Bindings.Remove(oldest.Key);
                }
            }
        }
    }
}
