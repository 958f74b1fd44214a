using Grpc.Health.V1;
using Microsoft.Extensions.DependencyInjection;
using Scheduler.Protos.Tls;
using Scheduler.Tests.EndToEnd;
using Scheduler.Worker.Hosting;

namespace Scheduler.Tests.Worker;

/// <summary>A worker node with a bad TLS setting refuses to build, naming the setting; a good one advertises https.</summary>
public sealed class WorkerTlsTests : IDisposable
{
    private readonly TestCertificates _certificates = new();

    public void Dispose() => _certificates.Dispose();

    [Fact]
    public void Build_KeyOfAnotherCertificate_FailsNamingTheSettings()
    {
        var (certificate, _) = _certificates.Issue("worker", "127.0.0.1");
        var (_, otherKey) = _certificates.Issue("other", "127.0.0.1");
        var options = new WorkerNodeOptions { Tls = { CertificatePath = certificate, KeyPath = otherKey } };

        var error = Assert.Throws<ArgumentException>(() => WorkerNodeHost.Build(options));

        Assert.Contains("Worker:Tls:CertificatePath", error.Message, StringComparison.Ordinal);
        Assert.Contains("Worker:Tls:KeyPath", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_SchedulerCaMissing_FailsNamingTrustedCaPath()
    {
        var options = new WorkerNodeOptions { Tls = { TrustedCaPath = Path.Combine(_certificates.Folder, "absent.crt") } };

        var error = Assert.Throws<ArgumentException>(() => WorkerNodeHost.Build(options));

        Assert.Contains("Worker:Tls:TrustedCaPath", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_ReloadIntervalZero_FailsNamingIt()
    {
        var (certificate, key) = _certificates.Issue("worker", "127.0.0.1");
        var options = new WorkerNodeOptions { Tls = { CertificatePath = certificate, KeyPath = key, ReloadInterval = TimeSpan.Zero } };

        var error = Assert.Throws<ArgumentException>(() => WorkerNodeHost.Build(options));

        Assert.StartsWith("Worker:Tls:ReloadInterval must be more than 00:00:00", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NewConnection_SecretRenewed_GetsTheRenewedCertificateWhileAnOpenConnectionKeepsWorking()
    {
        var original = SecretVolume.TlsPair(_certificates.Issue("a", "127.0.0.1"));
        var renewed = SecretVolume.TlsPair(_certificates.Issue("b", "127.0.0.1"));
        var volume = new SecretVolume(Path.Combine(_certificates.Folder, "node-tls"), original);
        var options = new WorkerNodeOptions
        {
            SpeedUp = WorkerNodeOptions.InstantSpeedUp,
            Tls = { CertificatePath = volume.PathOf("tls.crt"), KeyPath = volume.PathOf("tls.key"), ReloadInterval = TimeSpan.FromMilliseconds(200) },
        };
        await using var app = WorkerNodeHost.Build(options);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<WorkerNode>().Address;
        var open = new PresentedCertificates(_certificates.CaPath);
        using var openChannel = open.Channel(address);
        await PresentedCertificates.Checked(openChannel);

        volume.Update(renewed);

        var thumbprint = PresentedCertificates.ThumbprintOf(Path.Combine(_certificates.Folder, "b.crt"));
        await Polling.Until(
            async () => await PresentedCertificates.OfNewGrpcConnection(address, _certificates.CaPath) == thumbprint,
            "a new connection gets the renewed certificate", TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(200));
        await PresentedCertificates.Checked(openChannel);
        Assert.Equal(PresentedCertificates.ThumbprintOf(Path.Combine(_certificates.Folder, "a.crt")), Assert.Single(open.Thumbprints));
        await app.StopAsync();
    }

    [Fact]
    public async Task Register_SiloCertificateFromACaAddedToTheBundleAfterStart_RegistersWithoutARestart()
    {
        // The CA rotation: the silo already serves a certificate from the new CA; the node's bundle holds the old one.
        using var newCa = new TestCertificates("Scheduler Test CA 2");
        var (siloCertificate, siloKey) = newCa.Issue("silo", "127.0.0.1");
        var oldBundle = File.ReadAllText(_certificates.CaPath);
        var bundle = new SecretVolume(Path.Combine(_certificates.Folder, "scheduler-ca"), ("ca.crt", oldBundle));
        await using var scheduler = await LoopbackScheduler.StartAsync(
            "llama-3.1-8b", "ca-tenant", "ca-tenant-key", $"--Scheduler:Tls:CertificatePath={siloCertificate}", $"--Scheduler:Tls:KeyPath={siloKey}");
        var options = new WorkerNodeOptions
        {
            NodeId = "ca-node", SchedulerAddress = scheduler.Address, NodeToken = LoopbackScheduler.NodeToken, DrainTimeoutSeconds = 0,
            SpeedUp = WorkerNodeOptions.InstantSpeedUp,
            Tls = { TrustedCaPath = bundle.PathOf("ca.crt"), ReloadInterval = TimeSpan.FromMilliseconds(200) },
        };
        options.Accelerators.Add(new AcceleratorOptions { Product = "L4", MaxSequences = 1 });
        await using var node = WorkerNodeHost.Build(options);
        await node.StartAsync();
        var registered = node.Services.GetRequiredService<WorkerNode>().Registered;

        // Refused in the handshake while the bundle lacks the silo's CA, however many times it tries.
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.False(registered.IsCompleted);

        bundle.Update(("ca.crt", oldBundle + "\n" + File.ReadAllText(newCa.CaPath)));

        // Within the registration's retry backoff (at most 10 s) of the bundle being read again.
        await registered.WaitAsync(TimeSpan.FromSeconds(30));
        await node.StopAsync();
    }

    [Fact]
    public void Build_HealthPortSameAsPort_FailsNamingHealthPort()
    {
        var options = new WorkerNodeOptions { Port = 7000, HealthPort = 7000 };

        var error = Assert.Throws<ArgumentException>(() => WorkerNodeHost.Build(options));

        Assert.Contains("Worker:HealthPort", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_WithCertificateAndHealthPort_ProbesInCleartextAndAdvertisesTheTlsPort()
    {
        var (certificate, key) = _certificates.Issue("worker", "127.0.0.1");
        var healthPort = FreePort.Next();
        var options = new WorkerNodeOptions
        {
            SpeedUp = WorkerNodeOptions.InstantSpeedUp, HealthPort = healthPort, Tls = { CertificatePath = certificate, KeyPath = key },
        };
        await using var app = WorkerNodeHost.Build(options);
        await app.StartAsync();

        // The kubelet's probe: plain HTTP, no certificate.
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{healthPort}") };
        var ready = await http.GetAsync(new Uri("/readyz", UriKind.Relative));
        Assert.Equal(System.Net.HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("Healthy", await ready.Content.ReadAsStringAsync());
        Assert.Equal(System.Net.HttpStatusCode.OK, (await http.GetAsync(new Uri("/healthz", UriKind.Relative))).StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await http.GetAsync(new Uri("/", UriKind.Relative))).StatusCode);

        // The scheduler is told the TLS port, never the probe port.
        var address = new Uri(app.Services.GetRequiredService<WorkerNode>().Address);
        Assert.Equal("https", address.Scheme);
        Assert.NotEqual(healthPort, address.Port);
        await app.StopAsync();
    }

    [Fact]
    public async Task Start_WithCertificate_ServesTlsAtTheHttpsAddressItAdvertises()
    {
        var (certificate, key) = _certificates.Issue("worker", "127.0.0.1");
        var options = new WorkerNodeOptions { SpeedUp = WorkerNodeOptions.InstantSpeedUp, Tls = { CertificatePath = certificate, KeyPath = key } };
        await using var app = WorkerNodeHost.Build(options);
        await app.StartAsync();

        var address = app.Services.GetRequiredService<WorkerNode>().Address;

        Assert.StartsWith("https://127.0.0.1:", address, StringComparison.Ordinal);
        using var channel = SchedulerChannels.ForAddress(address, TrustedCa.LoadOrNull(_certificates.CaPath, "ca"));
        var reply = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(20));
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, reply.Status);
        await app.StopAsync();
    }
}
