using Scheduler.Protos.Tls;

namespace Scheduler.Silo.Hosting;

/// <summary>
/// The certificate the silo's client-facing ports serve (section "Scheduler:Tls"), as the PEM pair a Kubernetes TLS
/// Secret mounts. Both set: those ports speak TLS; both empty: cleartext.
/// </summary>
public sealed class ServerTlsOptions
{
    /// <summary>PEM certificate file (e.g. <c>/tls/tls.crt</c>): the silo's certificate, then any intermediates.</summary>
    public string? CertificatePath { get; set; }

    /// <summary>PEM private key file of that certificate (e.g. <c>/tls/tls.key</c>).</summary>
    public string? KeyPath { get; set; }

    /// <summary>How often the two files, and <c>Scheduler:Nodes:TrustedCaPath</c>, are read again, so a renewed certificate
    /// is served and a changed CA bundle trusted without a restart.</summary>
    public TimeSpan ReloadInterval { get; set; } = TimeSpan.FromSeconds(30);

    internal ServerCertificateFiles Files => new(CertificatePath ?? "", KeyPath ?? "", "Scheduler:Tls:CertificatePath", "Scheduler:Tls:KeyPath");
}
