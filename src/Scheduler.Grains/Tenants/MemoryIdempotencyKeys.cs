using Microsoft.Extensions.Options;

namespace Scheduler.Grains.Tenants;

/// <summary>
/// The idempotency keys of a single-process scheduler (in-memory state): they outlive tenant activations but not the
/// process, like the in-memory grain storage beside them. Each tenant keeps its keys for their lifetime and at most
/// <see cref="PlacementOptions.IdempotencyKeysPerTenant"/> of them (the oldest are forgotten first), since nothing
/// else bounds this process's memory. A tenant's keys are forgotten as they expire whether or not it sends more: any
/// call sweeps every tenant's expired keys, at most once a <see cref="SweepInterval"/>.
/// </summary>
public sealed class MemoryIdempotencyKeys(IOptions<PlacementOptions> options, TimeProvider time) : IIdempotencyKeys
{
    /// <summary>How often a call sweeps the expired keys of every tenant, not only its own.</summary>
    internal static readonly TimeSpan SweepInterval = TimeSpan.FromMinutes(1);

    private readonly Dictionary<string, TenantKeys> _tenants = new(StringComparer.Ordinal);

    // Without the sweep a tenant's keys were forgotten only by its own next key: one that stopped sending kept up to
    // IdempotencyKeysPerTenant expired keys for the process's life, so the memory grew with the tenants
    // that ever sent keys rather than with the keys still live.
    private DateTimeOffset _nextSweep;

    /// <summary>Keys held, expired or not, over every tenant: for tests.</summary>
    internal int KeysHeld
    {
        get
        {
            lock (_tenants)
            {
                return _tenants.Values.Sum(keys =>
                {
                    lock (keys)
                    {
                        return keys.Bindings.Count;
                    }
                });
            }
        }
    }

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
            SweepIfDue();
            if (!_tenants.TryGetValue(tenantId, out var keys))
            {
                _tenants[tenantId] = keys = new TenantKeys();
            }

            return keys;
        }
    }

    /// <summary>Forgets every tenant's expired keys, once a <see cref="SweepInterval"/>; called holding the tenants'
    /// lock, which is always taken before a tenant's own.</summary>
    private void SweepIfDue()
    {
        var now = time.GetUtcNow();
        if (now < _nextSweep)
        {
            return;
        }

        _nextSweep = now + SweepInterval;
        foreach (var keys in _tenants.Values)
        {
            lock (keys)
            {
                keys.ForgetExpired(now);
            }
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
                Dequeue(oldest);
            }
        }

        /// <summary>Forgets the expired keys only; a tenant left with none gives back its tables' room too (the table
        /// of a tenant that held thousands keeps its size after they go).</summary>
        public void ForgetExpired(DateTimeOffset now)
        {
            while (_order.TryPeek(out var oldest) && oldest.Expires <= now)
            {
                Dequeue(oldest);
            }

            if (Bindings.Count == 0)
            {
                Bindings.TrimExcess();
                _order.TrimExcess();
            }
        }

        private void Dequeue((string Key, DateTimeOffset Expires) oldest)
        {
            _order.Dequeue();
            if (Bindings.TryGetValue(oldest.Key, out var bound) && bound.Expires == oldest.Expires)
            {
                Bindings.Remove(oldest.Key);
            }
        }
    }
}
