using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Scheduler.Client;
using Scheduler.Protos.V1;
using Scheduler.Silo.Hosting;
using Scheduler.Silo.Models;
using Scheduler.Silo.Nodes;
using Scheduler.Standalone;
using Scheduler.Tests.EndToEnd;

namespace Scheduler.Tests.Standalone;

public sealed class StandaloneHostTests
{
    // The standalone's compiled-in fleet.
    private static readonly string[] EmbeddedNodes = ["node-h100", "node-l4", "node-lpu"];

    [Fact]
    public async Task Build_LaysItsSettingsOverTheSilosAndUnderTheCommandLine()
    {
        await using var app = StandaloneHost.Build(["--Scheduler:EmbeddedFleet:SpeedUp=instant", "--Scheduler:EmbeddedFleet:Nodes:2:NodeId=cli-node"]);

        var fleet = app.Services.GetRequiredService<IOptions<EmbeddedFleetOptions>>().Value;
        var models = app.Services.GetRequiredService<IOptions<ModelCatalogOptions>>().Value.Models;

        // The silo's appsettings.json still supplies the model; the standalone's settings add the fleet.
        Assert.Equal("llama-3.1-8b", Assert.Single(models).Name);
        Assert.True(fleet.Enabled);
        Assert.Equal(["node-h100", "node-l4", "cli-node"], fleet.Nodes.Select(n => n.NodeId));
        Assert.Equal("instant", fleet.SpeedUp);
    }

    /// <summary>The embedded fleet's execution streams are in-process by default; turned off, the silo dials its nodes
    /// over loopback gRPC as it dials remote ones. Jobs run either way.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task EmbeddedFleet_ReachesItsNodesInProcess_UnlessTurnedOff(bool inProcess)
    {
        await using var app = StandaloneHost.Build(
        [
            "--Scheduler:GrpcPort=0", "--Scheduler:HttpPort=0", "--Scheduler:OpenAiPort=0",
            $"--Scheduler:SiloPort={FreePort.Next()}", $"--Scheduler:GatewayPort={FreePort.Next()}",
            "--Scheduler:EmbeddedFleet:SpeedUp=instant", $"--Scheduler:EmbeddedFleet:InProcessLinks={inProcess}",
            "--Logging:LogLevel:Default=Warning",
        ]);
        await app.StartAsync();
        await app.Services.GetRequiredService<EmbeddedFleet>().Ready.WaitAsync(TimeSpan.FromSeconds(60));
        var links = app.Services.GetRequiredService<InProcessNodeLinks>();
        using var client = new SchedulerClient(app.Services.GetRequiredService<ListeningAddresses>().Grpc, "dev-key");

        var result = await client.RunAsync(new SubmitJobRequest { Model = "llama-3.1-8b", Prompt = "hello", MaxTokens = 16 }, deadline: DateTime.UtcNow.AddSeconds(30));

        Assert.True(result.Succeeded, $"{result.Status} {result.Error}");
        Assert.Equal(16, result.TokenCount);
        Assert.All(EmbeddedNodes, node => Assert.Equal(inProcess, links.Find(node) is not null));
        await app.StopAsync();
    }

    /// <summary>With the front door on TLS under a private CA, the embedded nodes register over it and jobs run: they
    /// trust exactly the certificate their silo serves. Before, they trusted only the system's CAs, never registered,
    /// and the standalone exited 1 after 30 s ("embedded nodes … did not register within 30 s").</summary>
    [Fact]
    public async Task EmbeddedFleet_WithFrontDoorTlsFromAPrivateCa_RegistersAndRunsJobs()
    {
        using var certificates = new TestCertificates();
        var (certificate, key) = certificates.Issue("front-door", "127.0.0.1", "localhost");
        await using var app = StandaloneHost.Build(
        [
            "--Scheduler:GrpcPort=0", "--Scheduler:HttpPort=0", "--Scheduler:OpenAiPort=0",
            $"--Scheduler:SiloPort={FreePort.Next()}", $"--Scheduler:GatewayPort={FreePort.Next()}",
            $"--Scheduler:Tls:CertificatePath={certificate}", $"--Scheduler:Tls:KeyPath={key}",
            "--Scheduler:EmbeddedFleet:SpeedUp=instant", "--Logging:LogLevel:Default=Warning",
        ]);
        await app.StartAsync();
        var fleet = app.Services.GetRequiredService<EmbeddedFleet>();
        await fleet.Ready.WaitAsync(TimeSpan.FromSeconds(60));
        var address = app.Services.GetRequiredService<ListeningAddresses>().Grpc;
        using var client = new SchedulerClient(address, "dev-key", certificates.CaPath);

        var result = await client.RunAsync(new SubmitJobRequest { Model = "llama-3.1-8b", Prompt = "hello", MaxTokens = 16 }, deadline: DateTime.UtcNow.AddSeconds(30));

        Assert.StartsWith("https://", address, StringComparison.Ordinal);
        Assert.True(result.Succeeded, $"{result.Status} {result.Error}");
        Assert.Equal(16, result.TokenCount);
        await app.StopAsync();
    }
}
