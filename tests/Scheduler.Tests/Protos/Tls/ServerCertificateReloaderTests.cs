using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Scheduler.Protos.Tls;
using Scheduler.Tests.EndToEnd;
using Scheduler.Tests.Silo.Nodes;

namespace Scheduler.Tests.Protos.Tls;

/// <summary>The certificate a server presents follows its files: a renewed pair is served after the interval, a
/// broken one never is.</summary>
public sealed class ServerCertificateReloaderTests : IDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(30);

    private readonly TestCertificates _certificates = new();
    private readonly FakeTimeProvider _time = new();
    private readonly RecordingLogger _logger = new();

    public void Dispose() => _certificates.Dispose();

    [Fact]
    public void Current_SecretSwappedToARenewedPair_IsTheRenewedCertificateFromTheNextInterval()
    {
        var (volume, reloader) = Serve(Issue("a"));
        using var _ = reloader;
        var renewed = Issue("b");

        volume.Update(renewed);
        _time.Advance(Interval - TimeSpan.FromSeconds(1));
        Assert.Equal(Thumbprint("a"), reloader.Current.Leaf.Thumbprint);
        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(Thumbprint("b"), reloader.Current.Leaf.Thumbprint);
        Assert.Same(reloader.Current.Leaf, reloader.ServerOptions().ServerCertificateContext!.TargetCertificate);
        var (level, message) = Assert.Single(_logger.Entries);
        Assert.Equal(LogLevel.Information, level);
        Assert.Contains(Thumbprint("b"), message, StringComparison.Ordinal);
        Assert.Contains(reloader.Current.Leaf.Subject, message, StringComparison.Ordinal);
        Assert.Contains(volume.PathOf("tls.crt"), message, StringComparison.Ordinal);
    }

    [Fact]
    public void Current_FilesUnchanged_KeepsTheCertificateReadAtStartWithoutALogLine()
    {
        var (_, reloader) = Serve(Issue("a"));
        using var _ = reloader;
        var served = reloader.Current;

        _time.Advance(Interval * 3);

        Assert.Same(served, reloader.Current);
        Assert.Empty(_logger.Entries);
    }

    [Fact]
    public void Current_SecretSwappedWhileTheServerStarted_IsTheRenewedCertificateFromTheFirstInterval()
    {
        var volume = new SecretVolume(Path.Combine(_certificates.Folder, "secret"), Issue("a"));
        var files = Files(volume);
        var initial = PemServerCertificate.LoadOrNull(files.CertificatePath, files.KeyPath, files.CertificateSetting, files.KeySetting)!;

        // Renewed after the start-up read, before the reloader came to be.
        volume.Update(Issue("b"));
        using var reloader = new ServerCertificateReloader(initial, files, Interval, _time, _logger);
        _time.Advance(Interval);

        Assert.Equal(Thumbprint("b"), reloader.Current.Leaf.Thumbprint);
    }

    [Fact]
    public void Current_NewCertificateWithTheOldKey_KeepsServingTheOldOneWarnsNamingTheFilesAndTakesTheKeyWhenItComes()
    {
        var original = Issue("a");
        var (volume, reloader) = Serve(original);
        using var _ = reloader;
        var renewed = Issue("b");

        // Outside Kubernetes a renewal may land file by file: the certificate first.
        File.WriteAllText(Path.Combine(volume.Folder, "..v1", "tls.crt"), renewed[0].Content);
        _time.Advance(Interval);

        Assert.Equal(Thumbprint("a"), reloader.Current.Leaf.Thumbprint);
        var (level, message) = Assert.Single(_logger.Entries);
        Assert.Equal(LogLevel.Warning, level);
        Assert.Contains(volume.PathOf("tls.crt"), message, StringComparison.Ordinal);
        Assert.Contains(volume.PathOf("tls.key"), message, StringComparison.Ordinal);
        Assert.Contains(Thumbprint("a"), message, StringComparison.Ordinal);

        File.WriteAllText(Path.Combine(volume.Folder, "..v1", "tls.key"), renewed[1].Content);
        _time.Advance(Interval);

        Assert.Equal(Thumbprint("b"), reloader.Current.Leaf.Thumbprint);
    }

    [Fact]
    public void Current_HalfWrittenCertificate_KeepsServingTheOldOneAndWarnsAgainNextInterval()
    {
        var original = Issue("a");
        var (volume, reloader) = Serve(original);
        using var _ = reloader;
        var renewed = Issue("b");

        volume.Update(("tls.crt", renewed[0].Content[..(renewed[0].Content.Length / 2)]), renewed[1]);
        _time.Advance(Interval);
        _time.Advance(Interval);

        Assert.Equal(Thumbprint("a"), reloader.Current.Leaf.Thumbprint);
        Assert.Equal(2, _logger.Entries.Count(e => e.Level == LogLevel.Warning && e.Message.Contains(volume.PathOf("tls.crt"), StringComparison.Ordinal)));
    }

    [Fact]
    public void Current_CertificateFileGone_KeepsServingTheOldOneAndWarnsNamingIt()
    {
        var (volume, reloader) = Serve(Issue("a"));
        using var _ = reloader;

        File.Delete(volume.PathOf("tls.crt"));
        _time.Advance(Interval);

        Assert.Equal(Thumbprint("a"), reloader.Current.Leaf.Thumbprint);
        var (level, message) = Assert.Single(_logger.Entries);
        Assert.Equal(LogLevel.Warning, level);
        Assert.Contains(volume.PathOf("tls.crt"), message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("00:00:00")]
    [InlineData("-00:00:01")]
    [InlineData("01:00:00.001")]
    public void IntervalRefusal_OutOfRange_NamesTheSetting(string interval)
    {
        var refusal = ServerCertificateReloader.IntervalRefusal(TimeSpan.Parse(interval, System.Globalization.CultureInfo.InvariantCulture), "Scheduler:Tls:ReloadInterval");

        Assert.NotNull(refusal);
        Assert.StartsWith("Scheduler:Tls:ReloadInterval must be", refusal, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("00:00:00.001")]
    [InlineData("00:00:30")]
    [InlineData("01:00:00")]
    public void IntervalRefusal_InRange_IsNull(string interval) =>
        Assert.Null(ServerCertificateReloader.IntervalRefusal(TimeSpan.Parse(interval, System.Globalization.CultureInfo.InvariantCulture), "Scheduler:Tls:ReloadInterval"));

    private (string Key, string Content)[] Issue(string name)
    {
        var (certificate, key) = _certificates.Issue(name, "127.0.0.1");
        return [("tls.crt", File.ReadAllText(certificate)), ("tls.key", File.ReadAllText(key))];
    }

    private string Thumbprint(string name) => X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(_certificates.Folder, name + ".crt"))).Thumbprint;

    private (SecretVolume Volume, ServerCertificateReloader Reloader) Serve((string Key, string Content)[] pair)
    {
        var volume = new SecretVolume(Path.Combine(_certificates.Folder, "secret"), pair);
        var files = Files(volume);
        var initial = PemServerCertificate.LoadOrNull(files.CertificatePath, files.KeyPath, files.CertificateSetting, files.KeySetting)!;
        return (volume, new ServerCertificateReloader(initial, files, Interval, _time, _logger));
    }

    private static ServerCertificateFiles Files(SecretVolume volume) =>
        new(volume.PathOf("tls.crt"), volume.PathOf("tls.key"), "Test:CertificatePath", "Test:KeyPath");
}
