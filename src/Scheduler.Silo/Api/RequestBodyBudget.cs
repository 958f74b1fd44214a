using Grpc.Core;
using Microsoft.Extensions.Options;

namespace Scheduler.Silo.Api;

/// <summary>
/// The bytes of request bodies a silo holds while it reads and parses them, bounded silo-wide by
/// <see cref="ApiOptions.MaxRequestBodyBytesInFlight"/>. A body is parsed whole: 40 concurrent 8 MB OpenAI bodies took
/// a standalone silo about 1 GB above its idle size, so a flood of large bodies could take it down where no one body
/// was too large. Refused as overload (RESOURCE_EXHAUSTED marked <see cref="SchedulerErrors.Overloaded"/>, with a
/// retry hint: the OpenAI door's 503 with <c>Retry-After</c>): the bytes are back as soon as the bodies being parsed are.
/// </summary>
internal sealed class RequestBodyBudget(IOptions<ApiOptions> options)
{
    /// <summary>The retry hint of a refusal: a body in the budget is parsed in milliseconds once it has arrived.</summary>
    public static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(1);

    private readonly long _budget = options.Value.MaxRequestBodyBytesInFlight;
    private readonly long _largest = options.Value.MaxReceiveMessageBytes;
    private long _held;
    private long _refused;

    /// <summary>The bytes of bodies read so far and not yet parsed.</summary>
    public long Held => Interlocked.Read(ref _held);

    /// <summary>Requests refused since the silo started, for the metric.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>
    /// Admits a body that says it has <paramref name="declaredBytes"/> (its <c>Content-Length</c>; null for one sent in
    /// chunks), refused before a byte of it is read when that many (at most <see cref="ApiOptions.MaxReceiveMessageBytes"/>:
    /// a longer one is the server's 413 at its first read), or for a body in chunks one, do not fit beside the bytes
    /// held now. An admitted
    /// body is charged as it is read (<see cref="Lease.Read"/>), not for what it declared: a client that sends slowly
    /// holds only what it has sent, so a few of them cannot keep every other body out. Two bodies admitted together
    /// can still pass the bound as they arrive: the one that would is refused then, mid-body. Dispose the lease once
    /// the body is parsed, or its read failed.
    /// </summary>
    /// <exception cref="RpcException">RESOURCE_EXHAUSTED: the body does not fit.</exception>
    public Lease Admit(long? declaredBytes)
    {
        if (Held + Math.Clamp(declaredBytes ?? 1, 1, _largest) > _budget)
        {
            throw Refusal(declaredBytes is { } bytes ? $"this request's body of {bytes} bytes was not read" : "this request's body was not read");
        }

        return new Lease(this);
    }

    private RpcException Refusal(string what)
    {
        Interlocked.Increment(ref _refused);
        return SchedulerErrors.Overloaded(SchedulerErrors.ResourceExhausted(
            $"this silo holds {_budget} bytes of request bodies being read at once (Scheduler:MaxRequestBodyBytesInFlight) and they are in use; {what}",
            RetryAfter));
    }

    /// <summary>An admitted body's bytes, given back at <see cref="Dispose"/>.</summary>
    internal sealed class Lease(RequestBodyBudget budget) : IDisposable
    {
        private long _charged;

        /// <summary><paramref name="body"/>, each read charged to the budget; disposing it disposes <paramref name="body"/>.</summary>
        public Stream Read(Stream body) => new Charged(this, body);

        public void Dispose() => Interlocked.Add(ref budget._held, -Interlocked.Exchange(ref _charged, 0));

        private int Charge(int read)
        {
            if (Interlocked.Add(ref budget._held, read) > budget._budget)
            {
                Interlocked.Add(ref budget._held, -read);
                throw budget.Refusal($"this request's body was refused after {Interlocked.Read(ref _charged) + read} bytes");
            }

            Interlocked.Add(ref _charged, read);
            return read;
        }

        private sealed class Charged(Lease lease, Stream body) : ReadOnlyWrapperStream(body)
        {
            public override int Read(Span<byte> buffer) => lease.Charge(Inner.Read(buffer));

            public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
                lease.Charge(await Inner.ReadAsync(buffer, cancellationToken));
        }
    }
}
