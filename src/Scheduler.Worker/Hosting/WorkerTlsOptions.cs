using Scheduler.Protos.Tls;

namespace Scheduler.Worker.Hosting;

/// <summary>
/// TLS of a worker node (section "Worker:Tls"): the certificate its WorkerService serves (the PEM pair of a Kubernetes
/// TLS Secret), and the CA it trusts when it registers with a scheduler at an https:// address.
/// </summary>
public sealed class WorkerTlsOptions
{
    /// <summary>PEM certificate file the node serves, e.g. <c>/tls/tls.crt</c>. With <see cref="KeyPath"/>, the node
    /// speaks TLS and advertises an https:// address.</summary>
    public string? CertificatePath { get; set; }

    /// <summary>PEM private key file of that certificate, e.g. <c>/tls/tls.key</c>.</summary>
    public string? KeyPath { get; set; }

    /// <summary>PEM file of the CA that signed the scheduler's certificate; empty trusts the system's CAs.</summary>
    public string? TrustedCaPath { get; set; }

    /// <summary>How often the certificate, key and CA files are read again, so a renewed certificate is served and a
    /// changed CA bundle trusted without a restart.</summary>
    public TimeSpan ReloadInterval { get; set; } = TimeSpan.FromSeconds(30);

    internal ServerCertificateFiles Files => new(CertificatePath ?? "", KeyPath ?? "", "Worker:Tls:CertificatePath", "Worker:Tls:KeyPath");
}
