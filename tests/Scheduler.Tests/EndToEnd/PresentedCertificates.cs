using System.Collections.Concurrent;
using System.Security.Cryptography.X509Certificates;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Scheduler.Protos.Tls;

namespace Scheduler.Tests.EndToEnd;

/// <summary>Connections that trust the test CA and note the thumbprint of every certificate a server presented to
/// them, one per TLS handshake.</summary>
internal sealed class PresentedCertificates(string caPath)
{
    private readonly TrustedCa _ca = TrustedCa.LoadOrNull(caPath, "ca")!;

    public ConcurrentQueue<string> Thumbprints { get; } = new();

    public SocketsHttpHandler Handler()
    {
        var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
        {
            if (certificate is not X509Certificate2 leaf)
            {
                return false;
            }

            Thumbprints.Enqueue(leaf.Thumbprint);
            return _ca.Validate(leaf, errors);
        };
        return handler;
    }

    public GrpcChannel Channel(string address) => GrpcChannel.ForAddress(address, new GrpcChannelOptions { HttpHandler = Handler(), DisposeHttpClient = true });

    /// <summary>The certificate a new connection to a gRPC server gets, once a health check over it was answered.</summary>
    public static async Task<string> OfNewGrpcConnection(string address, string caPath)
    {
        var presented = new PresentedCertificates(caPath);
        using var channel = presented.Channel(address);
        await Checked(channel);
        return Assert.Single(presented.Thumbprints);
    }

    /// <summary>Asks the standard gRPC health service over <paramref name="channel"/>; it must answer SERVING.</summary>
    public static async Task Checked(GrpcChannel channel)
    {
        var reply = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(20));
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, reply.Status);
    }

    public static string ThumbprintOf(string certificatePath) => X509Certificate2.CreateFromPem(File.ReadAllText(certificatePath)).Thumbprint;
}
