using System.Security.Cryptography.X509Certificates;
using Grpc.Net.Client;

namespace Scheduler.Protos.Tls;

/// <summary>Opens gRPC channels to the scheduler's silos and worker nodes: cleartext HTTP/2 for http:// addresses,
/// TLS for https:// ones, trusting a private CA when one is given and the system's CAs otherwise.</summary>
public static class SchedulerChannels
{
    /// <summary>The longest a channel to a silo waits between two attempts to connect while the silo is down.</summary>
    /// <remarks>gRPC's reconnect backoff grows to 120 s, and while it waits every call fails at once: a worker whose
    /// scheduler was down for 30 s re-registered 15 s after it was back, and a client (the failover runners, schedctl)
    /// kept failing UNAVAILABLE for seconds after a restarted silo answered. Capped near a heartbeat interval, the first
    /// call after the silo is back reaches it; an attempt to a silo that is down is a refused connection, no load.</remarks>
    public static TimeSpan SiloReconnectBackoff { get; } = TimeSpan.FromSeconds(2);

    /// <summary>A channel to a silo (a worker's registrations and heartbeats, a client's calls): it dials a silo that was
    /// down again within <see cref="SiloReconnectBackoff"/>, and tells one that stopped answering by
    /// <paramref name="liveness"/> (see <see cref="ForAddress"/>).</summary>
    public static GrpcChannel ToSilo(string address, TrustedCa? trustedCa, ConnectionLiveness? liveness) =>
        ForAddress(address, trustedCa, liveness, SiloReconnectBackoff);

    /// <summary>A channel to <paramref name="address"/>; disposing it closes its connections.</summary>
    /// <param name="address">An http:// or https:// URL.</param>
    /// <param name="trustedCa">The CA an https server's certificate must chain to; null trusts the system's CAs.</param>
    /// <param name="liveness">When set, a connection on which nothing has arrived for its <c>Idle</c> time is pinged, and
    /// closed when the ping gets no answer within its <c>Answer</c> time, failing its calls with UNAVAILABLE: a peer that
    /// accepted the connection and then stopped answering (a frozen process, a network that drops packets) otherwise
    /// holds a call open for ever, as TCP alone never tells. Null: no pings, as gRPC's own default.</param>
    /// <param name="maxReconnectBackoff">The longest the channel waits between two attempts to connect to a peer that
    /// is down, failing calls at once meanwhile; null keeps gRPC's default (120 s, reached after a few minutes down).</param>
    public static GrpcChannel ForAddress(string address, TrustedCa? trustedCa, ConnectionLiveness? liveness = null, TimeSpan? maxReconnectBackoff = null)
    {
        var options = new GrpcChannelOptions();
        if (maxReconnectBackoff is { } backoff)
        {
            options.MaxReconnectBackoff = backoff;
        }

        if (trustedCa is null && liveness is null)
        {
            return GrpcChannel.ForAddress(address, options);
        }

        var handler = new SocketsHttpHandler
        {
            // As GrpcChannel's own handler: more than the server's stream limit open another connection, not a queue.
            EnableMultipleHttp2Connections = true,
        };
        if (liveness is { } check)
        {
            handler.KeepAlivePingDelay = check.Idle;
            handler.KeepAlivePingTimeout = check.Answer;
            handler.KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests;
        }

        if (trustedCa is not null)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                certificate is X509Certificate2 x509 && trustedCa.Validate(x509, errors);
        }

        options.HttpHandler = handler;
        options.DisposeHttpClient = true;
        return GrpcChannel.ForAddress(address, options);
    }
}
