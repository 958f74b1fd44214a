using System.Security.Cryptography.X509Certificates;
using Grpc.Net.Client;

namespace Scheduler.Protos.Tls;

/// <summary>Opens gRPC channels to the scheduler's silos and worker nodes: cleartext HTTP/2 for http:// addresses,
/// TLS for https:// ones, trusting a private CA when one is given and the system's CAs otherwise.</summary>
public static class SchedulerChannels
{
    /// <summary>A channel to <paramref name="address"/>; disposing it closes its connections.</summary>
    /// <param name="address">An http:// or https:// URL.</param>
    /// <param name="trustedCa">The CA an https server's certificate must chain to; null trusts the system's CAs.</param>
    public static GrpcChannel ForAddress(string address, TrustedCa? trustedCa)
    {
        if (trustedCa is null)
        {
            return GrpcChannel.ForAddress(address);
        }

        var handler = new SocketsHttpHandler
        {
            // As GrpcChannel's own handler: more than the server's stream limit open another connection, not a queue.
            EnableMultipleHttp2Connections = true,
        };
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            certificate is X509Certificate2 x509 && trustedCa.Validate(x509, errors);
        return GrpcChannel.ForAddress(address, new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
    }
}
