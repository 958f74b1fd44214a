using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Scheduler.Protos.Tls;

namespace Scheduler.Tests.Protos.Tls;

public sealed class PemServerCertificateTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("scheduler-pem-").FullName;

    [Fact]
    public void LoadOrNull_ACertificateForClientsOnly_IsRefusedNamingTheSetting()
    {
        // Kestrel refused it at start-up while the certificate was set once; served through the handshake callback
        // (so renewals are picked up) it would be offered to every client, and every handshake would fail.
        var (certificate, key) = Write("client-only", new Oid("1.3.6.1.5.5.7.3.2"));

        var refused = Assert.Throws<ArgumentException>(() => PemServerCertificate.LoadOrNull(certificate, key, "Scheduler:Tls:CertificatePath", "Scheduler:Tls:KeyPath"));

        Assert.Contains("Scheduler:Tls:CertificatePath", refused.Message);
        Assert.Contains("Server Authentication (1.3.6.1.5.5.7.3.1)", refused.Message);
    }

    [Fact]
    public void LoadOrNull_ACertificateForServersOrWithoutUsages_IsRead()
    {
        var (server, serverKey) = Write("server", new Oid("1.3.6.1.5.5.7.3.1"));
        var (any, anyKey) = Write("any", null);

        Assert.NotNull(PemServerCertificate.LoadOrNull(server, serverKey, "c", "k"));
        Assert.NotNull(PemServerCertificate.LoadOrNull(any, anyKey, "c", "k"));
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private (string Certificate, string Key) Write(string name, Oid? usage)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        if (usage is not null)
        {
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([usage], false));
        }

        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        var certificatePath = Path.Combine(_folder, name + ".crt");
        var keyPath = Path.Combine(_folder, name + ".key");
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        return (certificatePath, keyPath);
    }
}
