using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Scheduler.Protos.Tls;
using Scheduler.Tests.EndToEnd;
using Scheduler.Tests.Silo.Nodes;

namespace Scheduler.Tests.Protos.Tls;

/// <summary>The CAs a client trusts follow their file: a CA added to the bundle is trusted from the next interval,
/// one dropped no longer is, and a broken bundle never replaces the last good one.</summary>
public sealed class TrustedCaReloaderTests : IDisposable
{
    private const string Setting = "Test:TrustedCaPath";
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(30);

    // Two private CAs, each signing its own server certificates: the one trusted at start, and the one rotated to.
    private readonly TestCertificates _old = new();
    private readonly TestCertificates _new = new("Scheduler Test CA 2");
    private readonly X509Certificate2 _issuedByOld;
    private readonly X509Certificate2 _issuedByNew;
    private readonly FakeTimeProvider _time = new();
    private readonly RecordingLogger _logger = new();

    public TrustedCaReloaderTests()
    {
        _issuedByOld = Server(_old);
        _issuedByNew = Server(_new);
    }

    public void Dispose()
    {
        _issuedByOld.Dispose();
        _issuedByNew.Dispose();
        _old.Dispose();
        _new.Dispose();
    }

    [Fact]
    public void Validate_CaAddedToTheBundle_TrustsItsCertificatesFromTheNextInterval()
    {
        var (volume, trusted) = Trust(Bundle(_old));
        using var _ = trusted.ReloadEvery(Interval, _time, _logger);
        Assert.False(trusted.Validate(_issuedByNew, SslPolicyErrors.None));

        volume.Update(("ca.crt", Bundle(_old) + "\n" + Bundle(_new)));
        _time.Advance(Interval - TimeSpan.FromSeconds(1));
        Assert.False(trusted.Validate(_issuedByNew, SslPolicyErrors.None));
        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.True(trusted.Validate(_issuedByNew, SslPolicyErrors.None));
        Assert.True(trusted.Validate(_issuedByOld, SslPolicyErrors.None));
        var (level, message) = Assert.Single(_logger.Entries);
        Assert.Equal(LogLevel.Information, level);
        Assert.Contains(Setting, message, StringComparison.Ordinal);
        Assert.Contains(volume.PathOf("ca.crt"), message, StringComparison.Ordinal);
        Assert.Contains(Thumbprint(_new), message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_OldCaDroppedFromTheBundle_NoLongerTrustsItsCertificates()
    {
        var (volume, trusted) = Trust(Bundle(_old) + "\n" + Bundle(_new));
        using var _ = trusted.ReloadEvery(Interval, _time, _logger);
        Assert.True(trusted.Validate(_issuedByOld, SslPolicyErrors.None));

        volume.Update(("ca.crt", Bundle(_new)));
        _time.Advance(Interval);

        Assert.False(trusted.Validate(_issuedByOld, SslPolicyErrors.None));
        Assert.True(trusted.Validate(_issuedByNew, SslPolicyErrors.None));
    }

    [Fact]
    public void Validate_BundleNotPem_KeepsTheLastGoodCasWarnsNamingTheSettingAndFileAndTakesTheFixedOne()
    {
        var (volume, trusted) = Trust(Bundle(_old));
        using var _ = trusted.ReloadEvery(Interval, _time, _logger);

        volume.Update(("ca.crt", "not a certificate"));
        _time.Advance(Interval);

        Assert.True(trusted.Validate(_issuedByOld, SslPolicyErrors.None));
        var (level, message) = Assert.Single(_logger.Entries);
        Assert.Equal(LogLevel.Warning, level);
        Assert.Contains(Setting, message, StringComparison.Ordinal);
        Assert.Contains(volume.PathOf("ca.crt"), message, StringComparison.Ordinal);
        Assert.Contains(Thumbprint(_old), message, StringComparison.Ordinal);

        // Still broken: still kept, and said again; then fixed: taken.
        _time.Advance(Interval);
        Assert.Equal(2, _logger.Entries.Count(e => e.Level == LogLevel.Warning));
        volume.Update(("ca.crt", Bundle(_new)));
        _time.Advance(Interval);

        Assert.False(trusted.Validate(_issuedByOld, SslPolicyErrors.None));
        Assert.True(trusted.Validate(_issuedByNew, SslPolicyErrors.None));
    }

    [Fact]
    public void Validate_BundleUnchanged_KeepsTheCasReadAtStartWithoutALogLine()
    {
        var (_, trusted) = Trust(Bundle(_old));
        using var _ = trusted.ReloadEvery(Interval, _time, _logger);
        var roots = trusted.Roots;

        _time.Advance(Interval * 3);

        Assert.Same(roots, trusted.Roots);
        Assert.Empty(_logger.Entries);
    }

    [Fact]
    public void Validate_ReloadDisposed_KeepsTheCasItHad()
    {
        var (volume, trusted) = Trust(Bundle(_old));
        trusted.ReloadEvery(Interval, _time, _logger)?.Dispose();

        volume.Update(("ca.crt", Bundle(_new)));
        _time.Advance(Interval);

        Assert.True(trusted.Validate(_issuedByOld, SslPolicyErrors.None));
    }

    [Fact]
    public void ValidateOnHandshake_CaAddedToTheBundle_TrustedByTheNextHandshakeWithoutWaiting()
    {
        var (volume, trusted) = Trust(Bundle(_old));
        trusted.ReloadOnHandshake(_logger);
        Assert.False(trusted.Validate(_issuedByNew, SslPolicyErrors.None));

        volume.Update(("ca.crt", Bundle(_old) + "\n" + Bundle(_new)));

        Assert.True(trusted.Validate(_issuedByNew, SslPolicyErrors.None));
        Assert.True(trusted.Validate(_issuedByOld, SslPolicyErrors.None));
        var (level, message) = Assert.Single(_logger.Entries);
        Assert.Equal(LogLevel.Information, level);
        Assert.Contains(Thumbprint(_new), message, StringComparison.Ordinal);
    }

    [Fact]
    public void ValidateOnHandshake_BundleNotPem_KeepsTheLastGoodCasAndWarnsOnce()
    {
        var (volume, trusted) = Trust(Bundle(_old));
        trusted.ReloadOnHandshake(_logger);
        var roots = trusted.Roots;

        volume.Update(("ca.crt", "not a certificate"));

        Assert.True(trusted.Validate(_issuedByOld, SslPolicyErrors.None));
        Assert.Same(roots, trusted.Roots);
        var (level, message) = Assert.Single(_logger.Entries);
        Assert.Equal(LogLevel.Warning, level);
        Assert.Contains(Setting, message, StringComparison.Ordinal);
        Assert.Contains(volume.PathOf("ca.crt"), message, StringComparison.Ordinal);
        Assert.Contains("at the next handshake", message, StringComparison.Ordinal);
    }

    private static string Bundle(TestCertificates certificates) => File.ReadAllText(certificates.CaPath);

    private static string Thumbprint(TestCertificates certificates) => X509Certificate2.CreateFromPem(Bundle(certificates)).Thumbprint;

    private static X509Certificate2 Server(TestCertificates ca) =>
        X509Certificate2.CreateFromPem(File.ReadAllText(ca.Issue("server", "127.0.0.1").CertificatePath));

    private (SecretVolume Volume, TrustedCa Trusted) Trust(string bundle)
    {
        var volume = new SecretVolume(Path.Combine(_old.Folder, "ca-secret"), ("ca.crt", bundle));
        return (volume, TrustedCa.LoadOrNull(volume.PathOf("ca.crt"), Setting)!);
    }
}
