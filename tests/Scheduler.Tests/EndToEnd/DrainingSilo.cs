using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Scheduler.Silo.Hosting;
using Scheduler.Tests.EndToEnd.Hostile;

namespace Scheduler.Tests.EndToEnd;

/// <summary>
/// A silo of its own, for tests of its drain: one tenant, one model served by a scripted fake node. <see cref="Drain"/>
/// signals it with <see cref="IHostApplicationLifetime.StopApplication"/>, as the host's SIGTERM handler does, and
/// nothing stops it further, so a test sees the drain itself, not a closed port.
/// </summary>
internal sealed class DrainingSilo : IAsyncDisposable
{
    public const string Model = "drain-model";
    public const string TenantKey = "drain-tenant-key";

    private readonly WebApplication _silo;

    private DrainingSilo(WebApplication silo, GrpcChannel channel, FakeWorkerNode node, Uri openAi)
    {
        _silo = silo;
        Channel = channel;
        Node = node;
        OpenAi = openAi;
    }

    public GrpcChannel Channel { get; }

    /// <summary>The node serving <see cref="Model"/>: the test scripts its steps.</summary>
    public FakeWorkerNode Node { get; }

    /// <summary>The silo's OpenAI-compatible API (its routes are under /v1).</summary>
    public Uri OpenAi { get; }

    public static async Task<DrainingSilo> StartAsync()
    {
        string[] args =
        [
            "--Scheduler:GrpcPort=0", "--Scheduler:HttpPort=0", "--Scheduler:OpenAiPort=0",
            $"--Scheduler:SiloPort={FreePort.Next()}", $"--Scheduler:GatewayPort={FreePort.Next()}",
            $"--Scheduler:NodeToken={SchedulerCluster.NodeToken}", "--Scheduler:EmbeddedFleet:Enabled=false",
            $"--Scheduler:Models:0:Name={Model}", "--Scheduler:Models:0:MaxContextTokens=8192",
            "--Scheduler:Tenants:0:Id=drain-tenant", $"--Scheduler:Tenants:0:ApiKey={TenantKey}",
            "--Logging:LogLevel:Default=Warning",
        ];
        var silo = SchedulerHost.Build(args);
        await silo.StartAsync();
        var addresses = silo.Services.GetRequiredService<ListeningAddresses>();
        var channel = GrpcChannel.ForAddress(addresses.Grpc);
        var node = await FakeWorkerNode.StartRegisteredAsync(channel, "drain", Model);
        return new DrainingSilo(silo, channel, node, new Uri(addresses.OpenAi));
    }

    public void Drain() => _silo.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();

    public async ValueTask DisposeAsync()
    {
        await Node.DisposeAsync();
        Channel.Dispose();
        await _silo.StopAsync();
        await _silo.DisposeAsync();
    }
}
