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
/// the bytes are back as soon as the bodies being parsed are.
/// </summary>
internal sealed class RequestBodyBudget(IOptions<ApiOptions> options)
{
    /// <summary>The retry hint of a refusal: a body in the budget is parsed in milliseconds once it has arrived, or the
    /// client sending it is slow (Kestrel ends one under 240 bytes/s within 5 s).</summary>
    public static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(1);

    private readonly long _budget = options.Value.MaxRequestBodyBytesInFlight;
    private readonly long _largest = options.Value.MaxReceiveMessageBytes;
    private long _held;
    private long _refused;

    /// <summary>The bytes reserved now by bodies being read or parsed.</summary>
    public long Held => Interlocked.Read(ref _held);

    /// <summary>Requests refused since the silo started, for the metric.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>
    /// Reserves room for a body that says it has <paramref name="declaredBytes"/> (its <c>Content-Length</c>, when it is
    /// sent as is); null — a compressed body, or one sent in chunks — reserves the most a body may hold once decoded,
    /// <see cref="ApiOptions.MaxReceiveMessageBytes"/>, and so does a larger declared length, which the server's own
    /// limit refuses with 413 at its first read. Dispose the lease once the body is parsed, or the read failed.
    /// </summary>
    /// <exception cref="RpcException">RESOURCE_EXHAUSTED: the bytes would pass the budget; nothing was reserved.</exception>
    /// <remarks>The refusal names no server setting: it goes to tenants; operators find the bound by the metric
    /// <c>scheduler_request_body_refused_total</c> and docs/operations.md.</remarks>
    public Lease Reserve(long? declaredBytes)
    {
        var bytes = Math.Min(declaredBytes ?? _largest, _largest);
        if (Interlocked.Add(ref _held, bytes) > _budget)
        {
            Interlocked.Add(ref _held, -bytes);
            Interlocked.Increment(ref _refused);
            throw SchedulerErrors.Overloaded(SchedulerErrors.ResourceExhausted(
                $"this silo is reading as many request bodies as it holds at once ({_budget} bytes); "
                + $"this request's body of up to {bytes} bytes was not read",
                RetryAfter));
        }

        return new Lease(this, bytes);
    }

    /// <summary>Bytes reserved by <see cref="Reserve"/>, given back by the first <see cref="Dispose"/>.</summary>
    internal sealed class Lease(RequestBodyBudget budget, long bytes) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                Interlocked.Add(ref budget._held, -bytes);
            }
        }
    }
}
