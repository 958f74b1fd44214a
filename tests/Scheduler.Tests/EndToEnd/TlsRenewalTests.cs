using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Scheduler.Silo.Hosting;
using Scheduler.Tests.Silo.Telemetry;

namespace Scheduler.Tests.EndToEnd;

/// <summary>
/// A silo whose front-door certificate is renewed while it runs, the files swapped as the kubelet swaps a mounted
/// Secret's: new connections to the gRPC and OpenAI-compatible ports get the renewed certificate within the reload
/// interval, a connection already open keeps working, and a pair that does not match is never served.
/// </summary>
[Collection(ProcessMetricsCollection.Name)]
public sealed class TlsRenewalTests : IDisposable
{
    private const string TenantKey = "renewal-tenant-key";
    private static readonly TimeSpan ReloadInterval = TimeSpan.FromMilliseconds(200);

    private readonly TestCertificates _certificates = new();
    private readonly CapturedLogs _logs = new();

    public void Dispose()
    {
        _certificates.Dispose();
        _logs.Dispose();
    }

    [Fact]
    public async Task NewConnections_SecretRenewed_GetTheRenewedCertificateOnBothFrontDoorsWhileAnOpenConnectionKeepsWorking()
    {
        var (original, originalExpiry) = Issue("a", hours: 2);
        var (renewed, renewedExpiry) = Issue("b", hours: 3);
        var volume = new SecretVolume(Path.Combine(_certificates.Folder, "front-door"), original);
        await using var silo = await StartSilo(volume);
        var addresses = silo.Services.GetRequiredService<ListeningAddresses>();
        var open = new PresentedCertificates(_certificates.CaPath);
        using var openChannel = open.Channel(addresses.Grpc);
        await PresentedCertificates.Checked(openChannel);
        Assert.Equal(Thumbprint("a"), Assert.Single(open.Thumbprints));
        Assert.Equal(originalExpiry, await Expiry(addresses.Http));

        volume.Update(renewed);

        await Polling.Until(
            async () => await PresentedCertificates.OfNewGrpcConnection(addresses.Grpc, _certificates.CaPath) == Thumbprint("b"),
            "a new gRPC connection gets the renewed certificate", TimeSpan.FromSeconds(10), ReloadInterval);
        Assert.Equal(Thumbprint("b"), await OfNewOpenAiConnection(addresses.OpenAi));
        // Polled: the exporter answers a scrape within its cache time (300 ms) from the scrape before.
        await Polling.Until(async () => await Expiry(addresses.Http) == renewedExpiry, "the expiry gauge at the renewed certificate's", TimeSpan.FromSeconds(10), ReloadInterval);
        Assert.Contains(_logs.Messages, m => m.StartsWith("TLS certificate renewed", StringComparison.Ordinal) && m.Contains(Thumbprint("b"), StringComparison.Ordinal));

        // The connection opened before the renewal still answers, over the handshake it made with the old certificate.
        await PresentedCertificates.Checked(openChannel);
        Assert.Equal(Thumbprint("a"), Assert.Single(open.Thumbprints));
    }

    [Fact]
    public async Task NewConnections_RenewedCertificateWithTheOldKey_KeepTheOldCertificateUntilTheMatchingKeyComes()
    {
        var (original, originalExpiry) = Issue("a", hours: 2);
        var (renewed, _) = Issue("b", hours: 3);
        var volume = new SecretVolume(Path.Combine(_certificates.Folder, "front-door"), original);
        await using var silo = await StartSilo(volume);
        var addresses = silo.Services.GetRequiredService<ListeningAddresses>();

        volume.Update(renewed[0], original[1]);
        await Polling.Until(
            () => _logs.Messages.Any(m => m.Contains(volume.PathOf("tls.crt"), StringComparison.Ordinal) && m.Contains(volume.PathOf("tls.key"), StringComparison.Ordinal)
                && m.Contains("do not read as a certificate and its private key", StringComparison.Ordinal)),
            "the warning naming both files", TimeSpan.FromSeconds(10));

        Assert.Equal(Thumbprint("a"), await PresentedCertificates.OfNewGrpcConnection(addresses.Grpc, _certificates.CaPath));
        Assert.Equal(Thumbprint("a"), await OfNewOpenAiConnection(addresses.OpenAi));
        Assert.Equal(originalExpiry, await Expiry(addresses.Http));

        volume.Update(renewed);

        await Polling.Until(
            async () => await PresentedCertificates.OfNewGrpcConnection(addresses.Grpc, _certificates.CaPath) == Thumbprint("b"),
            "a new gRPC connection gets the renewed certificate once its key is there", TimeSpan.FromSeconds(10), ReloadInterval);
    }

    /// <summary>A certificate valid until <paramref name="hours"/> after the start of this hour: a whole second, which the
    /// expiry gauge reads back exactly, always in the future and before the test CA's end (a day from now). Counted from
    /// midnight, as before, 20 and 22 hours had passed by 20:00 and 22:00 UTC, and the tests failed every evening.</summary>
    private ((string Key, string Content)[] Pair, double Expiry) Issue(string name, int hours)
    {
        var now = DateTimeOffset.UtcNow;
        var notAfter = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, 0, 0, TimeSpan.Zero).AddHours(hours);
        var (certificate, key) = _certificates.Issue(name, notAfter, "127.0.0.1");
        return ([("tls.crt", File.ReadAllText(certificate)), ("tls.key", File.ReadAllText(key))], notAfter.ToUnixTimeSeconds());
    }

    private string Thumbprint(string name) => PresentedCertificates.ThumbprintOf(Path.Combine(_certificates.Folder, name + ".crt"));

    private async Task<WebApplication> StartSilo(SecretVolume volume)
    {
        var builder = SchedulerHost.CreateBuilder(
        [
            "--Scheduler:GrpcPort=0", "--Scheduler:HttpPort=0", "--Scheduler:OpenAiPort=0",
            $"--Scheduler:SiloPort={FreePort.Next()}", $"--Scheduler:GatewayPort={FreePort.Next()}",
            $"--Scheduler:AdminApiKey={SchedulerCluster.AdminKey}", $"--Scheduler:NodeToken={SchedulerCluster.NodeToken}",
            $"--Scheduler:Models:0:Name={TlsCluster.Model}",
            "--Scheduler:Tenants:0:Id=renewal-tenant", $"--Scheduler:Tenants:0:ApiKey={TenantKey}",
            $"--Scheduler:Tls:CertificatePath={volume.PathOf("tls.crt")}", $"--Scheduler:Tls:KeyPath={volume.PathOf("tls.key")}",
            $"--Scheduler:Tls:ReloadInterval={ReloadInterval}",
            "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Scheduler=Information",
        ]);
        builder.Logging.AddProvider(_logs);
        var silo = SchedulerHost.MapEndpoints(builder.Build());
        await silo.StartAsync();
        return silo;
    }

    private async Task<string> OfNewOpenAiConnection(string address)
    {
        var presented = new PresentedCertificates(_certificates.CaPath);
        using var handler = presented.Handler();
        using var http = new HttpClient(handler, disposeHandler: false) { BaseAddress = new Uri(address) };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TenantKey);
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return Assert.Single(presented.Thumbprints);
    }

    private static async Task<double> Expiry(string httpAddress)
    {
        using var http = new HttpClient();
        var samples = await PrometheusScrape.ReadAsync(http, httpAddress);
        return Assert.Single(samples, s => s.Name == "scheduler_tls_certificate_expiry_seconds").Value;
    }
}
