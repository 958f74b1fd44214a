using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging.Abstractions;
using Scheduler.Protos.Tls;
using Scheduler.Tests.EndToEnd;

namespace Scheduler.Tests.Protos.Tls;

/// <summary><see cref="TrustedCa.Exactly"/>: a client inside the server's own process trusts the very certificate the
/// server serves now, and no other, whatever signed it and whatever names it carries.</summary>
public sealed class TrustedCaTests : IDisposable
{
    private readonly TestCertificates _certificates = new();

    public void Dispose() => _certificates.Dispose();

    [Fact]
    public void Exactly_TheServedCertificate_IsTrustedDespiteAnUntrustedChainAndAnotherName()
    {
        using var served = Issue("served", "scheduler.example.com");
        var trust = TrustedCa.Exactly(() => served);

        Assert.True(trust.Validate(served, SslPolicyErrors.RemoteCertificateChainErrors | SslPolicyErrors.RemoteCertificateNameMismatch));
        Assert.Null(trust.ReloadEvery(TimeSpan.FromSeconds(30), TimeProvider.System, NullLogger.Instance));
    }

    [Fact]
    public void Exactly_AnotherCertificateOfTheSameCaAndName_IsRefused_AndSoIsNoCertificate()
    {
        using var served = Issue("served", "127.0.0.1");
        using var other = Issue("other", "127.0.0.1");
        var trust = TrustedCa.Exactly(() => served);

        Assert.False(trust.Validate(other, SslPolicyErrors.None));
        Assert.False(trust.Validate(served, SslPolicyErrors.RemoteCertificateNotAvailable));
    }

    [Fact]
    public void Exactly_FollowsTheCertificateServedNow_AfterARenewal()
    {
        using var before = Issue("before", "127.0.0.1");
        using var renewed = Issue("renewed", "127.0.0.1");
        var current = before;
        var trust = TrustedCa.Exactly(() => current);

        current = renewed;

        Assert.True(trust.Validate(renewed, SslPolicyErrors.None));
        Assert.False(trust.Validate(before, SslPolicyErrors.None));
    }

    private X509Certificate2 Issue(string fileName, string name) =>
        X509Certificate2.CreateFromPem(File.ReadAllText(_certificates.Issue(fileName, name).CertificatePath));
}
