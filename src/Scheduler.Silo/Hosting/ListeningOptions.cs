using System.Net;
using Scheduler.Protos.Tls;

namespace Scheduler.Silo.Hosting;

/// <summary>Where the silo listens (section "Scheduler").</summary>
public sealed class ListeningOptions
{
    /// <summary>HTTP/2 port for gRPC (InferenceService, AdminService, NodeRegistryService, health, reflection):
    /// cleartext, or TLS when <see cref="Tls"/> names a certificate. 0 = any free port.</summary>
    public int GrpcPort { get; set; } = 5000;

    /// <summary>HTTP/1.1 port for /metrics, /healthz, /readyz and the Orleans dashboard, always cleartext. 0 = any free port.</summary>
    public int HttpPort { get; set; } = 5080;

    /// <summary>
    /// HTTP/1.1 port for the OpenAI-compatible API (/v1/...), apart from <see cref="HttpPort"/> so a network policy can
    /// let clients reach it and nothing else. 0 = any free port.
    /// </summary>
    public int OpenAiPort { get; set; } = 8080;

    /// <summary>Address the ports bind to.</summary>
    public string BindAddress { get; set; } = "127.0.0.1";

    /// <summary>
    /// Concurrent HTTP/2 streams one client connection may open (Kestrel's <c>Http2Limits.MaxStreamsPerConnection</c>,
    /// 100 by default). Every token stream is one, so Kestrel's default caps a client channel at 100 jobs in flight
    /// and keeps the rest waiting inside the client, where no scheduler metric sees them.
    /// </summary>
    public int MaxStreamsPerConnection { get; set; } = 1000;

    /// <summary>
    /// Open connections each port takes at once (Kestrel's <c>MaxConcurrentConnections</c>, unlimited by default, which
    /// counts each endpoint on its own): one more is closed as soon as it is accepted, before a byte is read or a TLS
    /// handshake made, and counted in <c>kestrel.rejected_connections</c>. Unbounded, clients that open connections and
    /// leave them idle (or a leak in one) could take every file descriptor the process has, and with them the silo's
    /// links to Redis, its peers and its nodes. An HTTP/1.1 client holds one connection per request in flight (a
    /// streamed answer for as long as it streams); a gRPC channel one or a few.
    /// </summary>
    public int MaxConnectionsPerPort { get; set; } = 10_000;

    /// <summary>The certificate of the client-facing ports (section "Scheduler:Tls"); none serves cleartext.</summary>
    public ServerTlsOptions Tls { get; set; } = new();

    /// <summary>Checks the settings and reads the front door's certificate (null when TLS is off).</summary>
    /// <exception cref="ConfigurationRefusedException">A setting is invalid; the message names it.</exception>
    internal PemServerCertificate? Validate()
    {
        Ports.Require("Scheduler:GrpcPort", GrpcPort, allowAny: true);
        Ports.Require("Scheduler:HttpPort", HttpPort, allowAny: true);
        Ports.Require("Scheduler:OpenAiPort", OpenAiPort, allowAny: true);
        if (!IPAddress.TryParse(BindAddress, out _))
        {
            throw new ConfigurationRefusedException($"Scheduler:BindAddress must be an IP address (0.0.0.0 for every interface), not '{BindAddress}'.");
        }

        if (MaxStreamsPerConnection < 1)
        {
            throw new ConfigurationRefusedException($"Scheduler:MaxStreamsPerConnection must be at least 1, not {MaxStreamsPerConnection}.");
        }

        if (MaxConnectionsPerPort < 1)
        {
            throw new ConfigurationRefusedException($"Scheduler:MaxConnectionsPerPort must be at least 1, not {MaxConnectionsPerPort}.");
        }

        if (ServerCertificateReloader.IntervalRefusal(Tls.ReloadInterval, "Scheduler:Tls:ReloadInterval") is { } refusal)
        {
            throw new ConfigurationRefusedException(refusal);
        }

        try
        {
            var files = Tls.Files;
            return PemServerCertificate.LoadOrNull(Tls.CertificatePath, Tls.KeyPath, files.CertificateSetting, files.KeySetting);
        }
        catch (ArgumentException ex)
        {
            throw ConfigurationRefusedException.From(ex);
        }
    }
}
