namespace Scheduler.Grains.Tenants;

/// <summary>The job an idempotency key names, and the fingerprint of the request it was first used with
/// (<see cref="RequestFingerprint"/>; null for a key stored before fingerprints were kept, which matches any request).</summary>
public sealed record IdempotencyBinding(string JobId, string? Fingerprint);

/// <summary>
/// Tenants' idempotency keys, one entry per key, each kept for <see cref="PlacementOptions.IdempotencyKeyLifetime"/>
/// after it was bound. A keyed submission costs one small write whatever the number of keys its tenant holds (they
/// lived in the tenant's state before, and every keyed submission rewrote all of them). A binding is durable when
/// its task completes: the tenant acknowledges no job before its key is bound.
/// </summary>
public interface IIdempotencyKeys
{
    /// <summary>Binds <paramref name="key"/> to <paramref name="binding"/> unless the key is bound already; returns the
    /// binding in force, which is <paramref name="binding"/> itself when the key was free. Atomic per key.</summary>
    Task<IdempotencyBinding> Claim(string tenantId, string key, IdempotencyBinding binding);

    /// <summary>Binds <paramref name="key"/> to <paramref name="binding"/> whatever it was bound to.</summary>
    Task Bind(string tenantId, string key, IdempotencyBinding binding);

    /// <summary>Forgets <paramref name="key"/> if it is still bound to <paramref name="jobId"/>: that submission was refused.</summary>
    Task Release(string tenantId, string key, string jobId);
}
