using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Scheduler.Tests.EndToEnd;

/// <summary>
/// A private CA and certificates it signed, generated for one test run and written as PEM files to a temporary
/// folder (deleted on dispose), as a Kubernetes TLS Secret would mount them; plus a second, unrelated CA.
/// </summary>
public sealed class TestCertificates : IDisposable
{
    private readonly ECDsa _caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly X509Certificate2 _ca;

    /// <param name="caName">The CA's common name; a second instance standing for a rotated-to CA needs its own, as
    /// the issued certificates name their issuer only by it.</param>
    public TestCertificates(string caName = "Scheduler Test CA")
    {
        Directory.CreateDirectory(Folder);
        _ca = SelfSignedCa(caName, _caKey);
        CaPath = Write("ca.crt", _ca.ExportCertificatePem());
        using var otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var other = SelfSignedCa("Unrelated CA", otherKey);
        OtherCaPath = Write("other-ca.crt", other.ExportCertificatePem());
    }

    public string Folder { get; } = Path.Combine(Path.GetTempPath(), "scheduler-tls-" + Guid.NewGuid().ToString("N")[..8]);

    /// <summary>The CA that signs every issued certificate.</summary>
    public string CaPath { get; }

    /// <summary>A CA that signed nothing here.</summary>
    public string OtherCaPath { get; }

    /// <summary>Issues a server certificate for <paramref name="names"/> (IP addresses or DNS names), signed by the CA;
    /// returns its PEM certificate and key files.</summary>
    public (string CertificatePath, string KeyPath) Issue(string fileName, params string[] names) => Issue(fileName, _ca.NotAfter.AddHours(-1), names);

    /// <summary>As <see cref="Issue(string, string[])"/>, valid until <paramref name="notAfter"/> (before the CA's own end),
    /// so two certificates for the same names tell apart by their expiry too.</summary>
    public (string CertificatePath, string KeyPath) Issue(string fileName, DateTimeOffset notAfter, params string[] names)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={names[0]}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        foreach (var name in names)
        {
            if (IPAddress.TryParse(name, out var ip))
            {
                san.AddIpAddress(ip);
            }
            else
            {
                san.AddDnsName(name);
            }
        }

        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var certificate = request.Create(_ca, DateTimeOffset.UtcNow.AddMinutes(-5), notAfter, RandomNumberGenerator.GetBytes(16));
        return (Write(fileName + ".crt", certificate.ExportCertificatePem()), Write(fileName + ".key", key.ExportPkcs8PrivateKeyPem()));
    }

    public string Write(string fileName, string content)
    {
        var path = Path.Combine(Folder, fileName);
        File.WriteAllText(path, content);
        return path;
    }

    public void Dispose()
    {
        _ca.Dispose();
        _caKey.Dispose();
        Directory.Delete(Folder, recursive: true);
    }

    private static X509Certificate2 SelfSignedCa(string name, ECDsa key)
    {
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
    }
}
