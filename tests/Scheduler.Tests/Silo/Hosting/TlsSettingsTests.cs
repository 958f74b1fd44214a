using Scheduler.Silo.Hosting;
using Scheduler.Tests.EndToEnd;

namespace Scheduler.Tests.Silo.Hosting;

/// <summary>A silo with a bad TLS or stream-limit setting refuses to build, naming the setting.</summary>
public sealed class TlsSettingsTests : IDisposable
{
    private readonly TestCertificates _certificates = new();

    public void Dispose() => _certificates.Dispose();

    [Fact]
    public void Build_CertificateFileMissing_FailsNamingCertificatePath()
    {
        var (_, key) = _certificates.Issue("silo", "127.0.0.1");

        var error = BuildFails($"--Scheduler:Tls:CertificatePath={Path.Combine(_certificates.Folder, "absent.crt")}", $"--Scheduler:Tls:KeyPath={key}");

        Assert.Contains("Scheduler:Tls:CertificatePath", error.Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_KeyOfAnotherCertificate_FailsNamingBothSettings()
    {
        var (certificate, _) = _certificates.Issue("silo", "127.0.0.1");
        var (_, otherKey) = _certificates.Issue("other", "127.0.0.1");

        var error = BuildFails($"--Scheduler:Tls:CertificatePath={certificate}", $"--Scheduler:Tls:KeyPath={otherKey}");

        Assert.Contains("Scheduler:Tls:CertificatePath", error.Message, StringComparison.Ordinal);
        Assert.Contains("Scheduler:Tls:KeyPath", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_CertificateWithoutKey_FailsNamingKeyPath()
    {
        var (certificate, _) = _certificates.Issue("silo", "127.0.0.1");

        var error = BuildFails($"--Scheduler:Tls:CertificatePath={certificate}");

        Assert.Contains("Scheduler:Tls:KeyPath is empty", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_CertificateFileNotPem_FailsNamingCertificatePath()
    {
        var (_, key) = _certificates.Issue("silo", "127.0.0.1");
        var notPem = _certificates.Write("not-pem.crt", "this is not a certificate");

        var error = BuildFails($"--Scheduler:Tls:CertificatePath={notPem}", $"--Scheduler:Tls:KeyPath={key}");

        Assert.Contains("Scheduler:Tls:CertificatePath", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("00:00:00")]
    [InlineData("02:00:00")]
    public void Build_ReloadIntervalOutOfRange_FailsNamingIt(string interval)
    {
        var (certificate, key) = _certificates.Issue("silo", "127.0.0.1");

        var error = BuildFails($"--Scheduler:Tls:CertificatePath={certificate}", $"--Scheduler:Tls:KeyPath={key}", $"--Scheduler:Tls:ReloadInterval={interval}");

        Assert.StartsWith($"Scheduler:Tls:ReloadInterval must be more than 00:00:00 and at most 01:00:00 (how often the certificate and CA files are read again), not {interval}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_NodeCaFileMissing_FailsNamingTrustedCaPath()
    {
        var error = BuildFails($"--Scheduler:Nodes:TrustedCaPath={Path.Combine(_certificates.Folder, "absent-ca.crt")}");

        Assert.Contains("Scheduler:Nodes:TrustedCaPath", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    public void Build_MaxStreamsPerConnectionBelowOne_FailsNamingIt(int streams)
    {
        var error = BuildFails($"--Scheduler:MaxStreamsPerConnection={streams}");

        Assert.Contains("Scheduler:MaxStreamsPerConnection", error.Message, StringComparison.Ordinal);
    }

    private static ConfigurationRefusedException BuildFails(params string[] settings) =>
        Assert.Throws<ConfigurationRefusedException>(() => SchedulerHost.Build(["--Scheduler:GrpcPort=0", "--Scheduler:HttpPort=0", .. settings]));
}
