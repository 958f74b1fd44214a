using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Scheduler.Protos.Tls;

/// <summary>
/// A TLS server certificate read from the PEM pair a Kubernetes TLS Secret mounts (<c>tls.crt</c>, <c>tls.key</c>):
/// the leaf with its private key, and any intermediate certificates that follow it in the certificate file, which
/// the server sends so clients that trust only the root can build the chain.
/// </summary>
public sealed class PemServerCertificate
{
    private PemServerCertificate(X509Certificate2 leaf, X509Certificate2Collection intermediates)
    {
        Leaf = leaf;
        Intermediates = intermediates;
        // Built once per certificate rather than per handshake; offline: the chain is what the file holds, never
        // intermediates fetched from the network.
        Context = SslStreamCertificateContext.Create(leaf, intermediates, offline: true);
    }

    /// <summary>The server's own certificate, with its private key.</summary>
    public X509Certificate2 Leaf { get; }

    /// <summary>The certificates after the leaf in the certificate file (empty when it holds the leaf only).</summary>
    public X509Certificate2Collection Intermediates { get; }

    /// <summary>The leaf and its intermediates as a TLS server presents them.</summary>
    public SslStreamCertificateContext Context { get; }

    /// <summary>Reads the pair, or returns null when neither path is set (TLS off).</summary>
    /// <param name="certificatePath">PEM file: the leaf certificate first, then any intermediates.</param>
    /// <param name="keyPath">PEM file: the leaf's private key (PKCS#8, RSA or EC).</param>
    /// <param name="certificateSetting">The setting that names the certificate file, for error messages.</param>
    /// <param name="keySetting">The setting that names the key file, for error messages.</param>
    /// <exception cref="ArgumentException">A path is missing or unreadable, a file is not PEM, the key is not
    /// the certificate's, or the certificate is not for servers; the message names the setting.</exception>
    public static PemServerCertificate? LoadOrNull(string? certificatePath, string? keyPath, string certificateSetting, string keySetting)
    {
        var hasCertificate = !string.IsNullOrWhiteSpace(certificatePath);
        var hasKey = !string.IsNullOrWhiteSpace(keyPath);
        if (!hasCertificate && !hasKey)
        {
            return null;
        }

        if (!hasCertificate || !hasKey)
        {
            var (missing, given) = hasCertificate ? (keySetting, certificateSetting) : (certificateSetting, keySetting);
            throw new ArgumentException($"{given} is set but {missing} is empty: TLS needs both the certificate and its private key.", missing);
        }

        PemFiles.RequireFile(certificatePath!, certificateSetting);
        PemFiles.RequireFile(keyPath!, keySetting);
        var files = new ServerCertificateFiles(certificatePath!, keyPath!, certificateSetting, keySetting);
        return Parse(files, File.ReadAllText(files.CertificatePath), File.ReadAllText(files.KeyPath));
    }

    /// <summary>The certificate in <paramref name="certificatePem"/> with the key in <paramref name="keyPem"/>, the
    /// contents of <paramref name="files"/> as read.</summary>
    /// <exception cref="ArgumentException">A file is not PEM, holds no certificate, the key is not the certificate's,
    /// or the certificate is not for servers; the message names the settings and files.</exception>
    internal static PemServerCertificate Parse(ServerCertificateFiles files, string certificatePem, string keyPem)
    {
        X509Certificate2 leaf;
        var intermediates = new X509Certificate2Collection();
        try
        {
            leaf = X509Certificate2.CreateFromPem(certificatePem, keyPem);
            var all = new X509Certificate2Collection();
            all.ImportFromPem(certificatePem);
            foreach (var certificate in all.Skip(1))
            {
                intermediates.Add(certificate);
            }
        }
        // A file that is not PEM is a CryptographicException; a key that is not the certificate's, an ArgumentException.
        catch (Exception ex) when (ex is CryptographicException or ArgumentException)
        {
            throw new ArgumentException(
                $"{files.CertificateSetting} ('{files.CertificatePath}') and {files.KeySetting} ('{files.KeyPath}') are not a PEM certificate and its private key: {ex.Message}",
                files.CertificateSetting,
                ex);
        }

        // Kestrel checks this only for a certificate set at start-up, not for one a handshake callback hands it: a
        // certificate for clients only would otherwise be served, and refused by every client's handshake.
        if (!AllowsServerAuthentication(leaf))
        {
            throw new ArgumentException(
                $"{files.CertificateSetting} ('{files.CertificatePath}') is not a server certificate: its Extended Key Usage does not include Server Authentication ({ServerAuthenticationOid}).",
                files.CertificateSetting);
        }

        return new PemServerCertificate(leaf, intermediates);
    }

    private const string ServerAuthenticationOid = "1.3.6.1.5.5.7.3.1";

    // A certificate without the extension may serve any purpose (RFC 5280, 4.2.1.12).
    private static bool AllowsServerAuthentication(X509Certificate2 leaf) =>
        leaf.Extensions.OfType<X509EnhancedKeyUsageExtension>().FirstOrDefault() is not { } usages
        || usages.EnhancedKeyUsages.Cast<Oid>().Any(u => u.Value == ServerAuthenticationOid);

    /// <summary>Whether <paramref name="other"/> is the same leaf with the same intermediates.</summary>
    internal bool IsSameAs(PemServerCertificate other) =>
        Leaf.Thumbprint == other.Leaf.Thumbprint && Intermediates.Select(c => c.Thumbprint).SequenceEqual(other.Intermediates.Select(c => c.Thumbprint));
}
