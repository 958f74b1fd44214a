using System.Collections.Concurrent;
using Grpc.Core;
using Microsoft.Extensions.Options;

namespace Scheduler.Silo.Api;

/// <summary>
/// The bytes of request bodies a silo holds while it reads and parses them, bounded silo-wide by
/// <see cref="ApiOptions.MaxRequestBodyBytesInFlight"/>, one budget for both front doors: the OpenAI door's bodies
/// (<see cref="OpenAi.OpenAiRequestReader"/>) and the gRPC door's request messages (<see cref="RequestMessageBudget"/>).
/// A body or message is parsed whole: 40 concurrent 8 MB OpenAI bodies took a standalone silo about 1 GB above its idle
/// size, and as many SubmitJob messages 0.6 to 1 GB, so a flood of large requests could take it down where no one was
/// too large. A request that would pass the bound is refused before its body is read, as overload (RESOURCE_EXHAUSTED
/// marked <see cref="SchedulerErrors.Overloaded"/>, with a retry hint: the OpenAI door's 503 with <c>Retry-After</c>):
/// the bytes are back as soon as the bodies being parsed are. Within the budget a tenant holds at most its share,
/// <see cref="ApiOptions.MaxRequestBodyBytesPerTenant"/>, refused past it the same way: a tenant whose client sends
/// large bodies slowly holds their declared bytes as long as they take, and could otherwise keep every other tenant out.
/// </summary>
internal sealed class RequestBodyBudget(IOptions<ApiOptions> options)
{
    /// <summary>The retry hint of a refusal: a body in the budget is parsed in milliseconds once it has arrived, or the
    /// client sending it is slow (Kestrel ends one under 240 bytes/s within 5 s).</summary>
    public static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(1);

    private readonly long _budget = options.Value.MaxRequestBodyBytesInFlight;
    private readonly long _perTenant = options.Value.RequestBodyBytesPerTenant();
    private readonly long _largest = options.Value.MaxReceiveMessageBytes;

    // A counter per tenant that has sent a body, kept (a tenant is an administered name, a few bytes each): one taken out
    // when it reached 0 could be given back to after another had taken its place.
    private readonly ConcurrentDictionary<string, TenantShare> _tenants = new(StringComparer.Ordinal);
    private long _held;
    private long _refusedBySilo;
    private long _refusedByShare;

    /// <summary>The bytes reserved now by bodies being read or parsed.</summary>
    public long Held => Interlocked.Read(ref _held);

    /// <summary>Requests refused since the silo started.</summary>
    public long Refused => RefusedBySilo + RefusedByShare;

    /// <summary>Requests refused since the silo started because the silo's budget was in use, for the metric.</summary>
    public long RefusedBySilo => Interlocked.Read(ref _refusedBySilo);

    /// <summary>Requests refused since the silo started because their tenant's share was in use (the keyless callers'
    /// share included), for the metric: which bound refused tells an operator what to raise.</summary>
    public long RefusedByShare => Interlocked.Read(ref _refusedByShare);

    /// <summary>
    /// Reserves room, within the silo's budget and <paramref name="tenant"/>'s share of it (the callers without a key
    /// share one, <see cref="AuthInterceptor.KeylessShare"/>; none for an admin's or a node's call), for a body that says it has <paramref name="declaredBytes"/> (its <c>Content-Length</c>, when it is
    /// sent as is); null — a compressed body, or one sent in chunks — reserves the most a body may hold once decoded,
    /// <see cref="ApiOptions.MaxReceiveMessageBytes"/>, and so does a larger declared length, which the server's own
    /// limit refuses with 413 at its first read. Dispose the lease once the body is parsed, or the read failed.
    /// </summary>
    /// <exception cref="RpcException">RESOURCE_EXHAUSTED: the bytes would pass the budget or the tenant's share; nothing
    /// was reserved.</exception>
    /// <remarks>The refusal names no server setting: it goes to tenants; operators find the bound by the metric
    /// <c>scheduler_request_body_refused_total</c> and docs/operations.md.</remarks>
    public Lease Reserve(long? declaredBytes, string? tenant)
    {
        var bytes = Math.Min(declaredBytes ?? _largest, _largest);
        if (Interlocked.Add(ref _held, bytes) > _budget)
        {
            Interlocked.Add(ref _held, -bytes);
            Interlocked.Increment(ref _refusedBySilo);
            throw Refusal($"this silo is reading as many request bodies as it holds at once ({_budget} bytes)", bytes);
        }

        // Allocates only for a tenant's first body since the silo started.
        var share = tenant is null ? null : _tenants.GetOrAdd(tenant, static _ => new TenantShare());
        if (share is not null && Interlocked.Add(ref share.Held, bytes) > _perTenant)
        {
            Interlocked.Add(ref share.Held, -bytes);
            Interlocked.Add(ref _held, -bytes);
            Interlocked.Increment(ref _refusedByShare);
            var whose = tenant == AuthInterceptor.KeylessShare ? "the request bodies of callers without a key" : "this tenant's request bodies";
            throw Refusal($"this silo is reading as many of {whose} as one tenant may hold at once ({_perTenant} bytes)", bytes);
        }

        return new Lease(this, bytes, share);
    }

    private static RpcException Refusal(string bound, long bytes) => SchedulerErrors.Overloaded(SchedulerErrors.ResourceExhausted($"{bound}; this request's body of up to {bytes} bytes was not read", RetryAfter));

    /// <summary>The bytes one tenant's bodies reserve; a class, so a lease adds to it without looking it up again.</summary>
    internal sealed class TenantShare
    {
        public long Held;
    }

    /// <summary>Bytes reserved by <see cref="Reserve"/>, given back by the first <see cref="Dispose"/>.</summary>
    internal sealed class Lease(RequestBodyBudget budget, long bytes, TenantShare? share) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                if (share is not null)
                {
                    Interlocked.Add(ref share.Held, -bytes);
                }

                Interlocked.Add(ref budget._held, -bytes);
            }
        }
    }
}
