using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Scheduler.Protos.Tls;

/// <summary>
/// The certificate authorities a TLS client trusts instead of the system's: a private CA that signed the scheduler's
/// or a worker's certificate (e.g. the <c>ca.crt</c> of a Kubernetes Secret). The server's certificate must chain
/// to one of them and name the host dialled (DNS name or IP address), or <see cref="ServerName"/> when set.
/// </summary>
public sealed class TrustedCa
{
    private readonly X509Certificate2Collection _roots;

    private TrustedCa(X509Certificate2Collection roots, string? serverName)
    {
        _roots = roots;
        ServerName = serverName;
    }

    /// <summary>
    /// The name every server's certificate must carry instead of the host dialled, or null to check the host. Worker
    /// nodes are dialled at their pod IPs, which a shared certificate cannot list; they can share one certificate
    /// for a fixed name instead.
    /// </summary>
    public string? ServerName { get; }

    /// <summary>Reads a PEM file of one or more CA certificates, or returns null when <paramref name="path"/> is empty.</summary>
    /// <param name="path">The PEM file.</param>
    /// <param name="setting">The setting that names it, for error messages.</param>
    /// <param name="serverName">See <see cref="ServerName"/>.</param>
    /// <exception cref="ArgumentException">The file is missing or holds no PEM certificate; the message names the setting.</exception>
    public static TrustedCa? LoadOrNull(string? path, string setting, string? serverName = null) =>
        string.IsNullOrWhiteSpace(path)
            ? null
            : new TrustedCa(PemFiles.ReadCertificates(path, setting), string.IsNullOrWhiteSpace(serverName) ? null : serverName);

    /// <summary>Validates a server certificate: chain to these roots only (the system store is not consulted), then the name.</summary>
    public bool Validate(X509Certificate2 certificate, SslPolicyErrors errors)
    {
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            return false;
        }

        // SslStream already compared the certificate with the host dialled; with a fixed server name that comparison
        // does not apply and this one replaces it.
        if (ServerName is { } name ? !certificate.MatchesHostname(name) : errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_roots);
        // A private CA publishes no revocation lists.
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    }
}
