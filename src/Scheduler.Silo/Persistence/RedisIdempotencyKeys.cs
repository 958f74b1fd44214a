using Microsoft.Extensions.Options;
using Scheduler.Grains;
using Scheduler.Grains.Tenants;
using StackExchange.Redis;

namespace Scheduler.Silo.Persistence;

/// <summary>
/// The idempotency keys of a Redis-clustered scheduler: one Redis string per tenant and key, written with an expiry
/// (<see cref="PlacementOptions.IdempotencyKeyLifetime"/>), so Redis forgets keys by itself and a keyed submission
/// is one small round trip whatever the number of keys the tenant holds. The value is the request's fingerprint and
/// the job id, separated by a space (a fingerprint is base64, without spaces; empty for a key that has none).
/// </summary>
internal sealed class RedisIdempotencyKeys(IConnectionMultiplexer redis, IOptions<PlacementOptions> options, string serviceId) : IIdempotencyKeys
{
    // GET, and SET only if there was nothing: one round trip, atomic on the server (SET NX GET needs Redis 7).
    private const string ClaimScript = """
        local bound = redis.call('GET', KEYS[1])
        if bound then return bound end
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        return false
        """;

    // DEL only if the value ends with " " + the job id: a binding to another job stays.
    private const string ReleaseScript = """
        local bound = redis.call('GET', KEYS[1])
        local suffix = ' ' .. ARGV[1]
        if bound and string.sub(bound, -string.len(suffix)) == suffix then redis.call('DEL', KEYS[1]) end
        return 0
        """;

    private IDatabase Db => redis.GetDatabase();

    public async Task<IdempotencyBinding> Claim(string tenantId, string key, IdempotencyBinding binding)
    {
        var bound = await Db.ScriptEvaluateAsync(ClaimScript, [Key(tenantId, key)], [Value(binding), LifetimeMs]);
        return bound.IsNull ? binding : Parse((string)bound!);
    }

    public Task Bind(string tenantId, string key, IdempotencyBinding binding) =>
        Db.StringSetAsync(Key(tenantId, key), Value(binding), options.Value.IdempotencyKeyLifetime);

    public Task Release(string tenantId, string key, string jobId) =>
        Db.ScriptEvaluateAsync(ReleaseScript, [Key(tenantId, key)], [jobId]);

    private long LifetimeMs => (long)options.Value.IdempotencyKeyLifetime.TotalMilliseconds;

    private static string Value(IdempotencyBinding binding) => $"{binding.Fingerprint} {binding.JobId}";

    private static IdempotencyBinding Parse(string value)
    {
        var space = value.IndexOf(' ', StringComparison.Ordinal);
        return new IdempotencyBinding(value[(space + 1)..], space > 0 ? value[..space] : null);
    }

    // The tenant id's length keeps "a/b" + "c" apart from "a" + "b/c". No hash tag: keys spread over a Redis cluster's shards.
    private RedisKey Key(string tenantId, string key) => $"{serviceId}/idempotency/{tenantId.Length}:{tenantId}/{key}";
}
