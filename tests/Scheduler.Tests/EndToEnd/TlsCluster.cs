using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Scheduler.Client;
using Scheduler.Silo.Hosting;

namespace Scheduler.Tests.EndToEnd;

/// <summary>
/// A silo whose gRPC front door serves TLS with a certificate for 127.0.0.1 and whose node links require TLS, and one
/// worker node process that serves TLS with a certificate for the fixed name "scheduler-worker" (as one certificate
/// shared by a pool's pods is) and registers over TLS; all certificates signed by a CA generated for the run.
/// </summary>
public sealed class TlsCluster : IAsyncLifetime
{
    public const string Model = "llama-3.1-8b";
    public const string TenantKey = "tls-tenant-key";
    public const string WorkerName = "scheduler-worker";

    private WebApplication? _silo;
    private WorkerProcess? _worker;

    public TestCertificates Certificates { get; } = new();

    /// <summary>The silo's gRPC address, https://127.0.0.1:PORT.</summary>
    public string Address { get; private set; } = "";

    /// <summary>The OpenAI-compatible API's address (https).</summary>
    public string OpenAiAddress { get; private set; } = "";

    public async Task InitializeAsync()
    {
        var (siloCertificate, siloKey) = Certificates.Issue("silo", "127.0.0.1", "localhost");
        var (workerCertificate, workerKey) = Certificates.Issue("worker", WorkerName);
        _silo = SchedulerHost.Build(
        [
            "--Scheduler:GrpcPort=0", "--Scheduler:HttpPort=0", "--Scheduler:OpenAiPort=0",
            $"--Scheduler:SiloPort={FreePort.Next()}", $"--Scheduler:GatewayPort={FreePort.Next()}",
            $"--Scheduler:AdminApiKey={SchedulerCluster.AdminKey}", $"--Scheduler:NodeToken={SchedulerCluster.NodeToken}",
            $"--Scheduler:Models:0:Name={Model}",
            "--Scheduler:Tenants:0:Id=tls-tenant", $"--Scheduler:Tenants:0:ApiKey={TenantKey}",
            $"--Scheduler:Tls:CertificatePath={siloCertificate}", $"--Scheduler:Tls:KeyPath={siloKey}",
            $"--Scheduler:Nodes:TrustedCaPath={Certificates.CaPath}", $"--Scheduler:Nodes:ServerName={WorkerName}",
            "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Scheduler=Warning",
        ]);
        await _silo.StartAsync();
        Address = _silo.Services.GetRequiredService<ListeningAddresses>().Grpc;
        OpenAiAddress = _silo.Services.GetRequiredService<ListeningAddresses>().OpenAi;

        _worker = WorkerProcess.Start("tls-node", Address, "20", model: null,
            [$"--Worker:Tls:CertificatePath={workerCertificate}", $"--Worker:Tls:KeyPath={workerKey}", $"--Worker:Tls:TrustedCaPath={Certificates.CaPath}"],
            environment: null,
            ("L4", 1, null));

        using var admin = new SchedulerAdminClient(Address, SchedulerCluster.AdminKey, Certificates.CaPath);
        await Polling.Until(
            async () => (await admin.ListReplicasAsync(Model)).Any(r => r.State == "ready"), "the TLS node's replica ready", TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(200));
    }

    public async Task DisposeAsync()
    {
        if (_worker is not null)
        {
            await _worker.DisposeAsync();
        }

        if (_silo is not null)
        {
            await _silo.StopAsync();
            await _silo.DisposeAsync();
        }

        Certificates.Dispose();
    }
}
