using Microsoft.Extensions.Configuration;
using Scheduler.Bench.Harness;
using Scheduler.Silo.Hosting;
using Scheduler.Standalone;

namespace Scheduler.Bench.SchedulerPath;

/// <summary>
/// The real scheduler silo (Orleans, gRPC front door, embedded worker nodes over real loopback gRPC) hosted in
/// this process, with an instant engine, so that what is measured is the scheduler and not the simulated GPUs.
/// </summary>
internal sealed class EmbeddedSilo : IAsyncDisposable
{
    public const string Model = "llama-3.1-8b";
    public const string TenantKey = "bench-key-123";

    /// <summary>Extra tenants for the spread-load diagnostic: each tenant's jobs pass through its own tenant grain.</summary>
    public const int ExtraTenants = 3;

    /// <summary>The API keys of all tenants: "bench" first, then bench-2 … bench-(1+<see cref="ExtraTenants"/>).</summary>
    public static IReadOnlyList<string> TenantKeys { get; } = [TenantKey, .. Enumerable.Range(2, ExtraTenants).Select(i => $"bench-key-{i}")];
    public const string AdminKey = "dev-admin-key";

    private readonly WebApplication _app;

    private EmbeddedSilo(WebApplication app, ListeningAddresses addresses)
    {
        _app = app;
        Address = addresses.Grpc;
        OpenAiAddress = addresses.OpenAi;
    }

    /// <summary>The silo's gRPC address, e.g. http://127.0.0.1:41234.</summary>
    public string Address { get; }

    /// <summary>The silo's OpenAI-compatible API, e.g. http://127.0.0.1:41236 (routes under /v1).</summary>
    public string OpenAiAddress { get; }

    /// <summary>How the fleet is described in the report.</summary>
    public static string FleetDescription(BenchSettings settings) =>
        $"node bench-h100 (2 × H100) + node bench-a100 (1 × A100), SpeedUp={settings.SpeedUp}, execution streams {settings.NodeLinks}" +
        (settings.TokenIntervalMs > 0 ? $", tokens after the first at most every {settings.TokenIntervalMs} ms" : "");

    public static int ExpectedReplicas => 3;

    /// <summary>The <see cref="BenchSettings.NodeLinks"/> value of the embedded default's execution streams.</summary>
    public const string InProcessLinks = "in-process";

    /// <summary>Starts the silo with the run's placement policy and its state in memory or, given <see cref="BenchSettings.Redis"/>
    /// (host:port), in Redis mode under a fresh service id, so that no earlier run's state is found.</summary>
    public static async Task<EmbeddedSilo> StartAsync(BenchSettings settings, CancellationToken cancellationToken)
    {
        var ports = FreePorts.Take(2);
        string[] common = [.. Arguments(ports[0], ports[1]), $"--Scheduler:Scheduling:PlacementPolicy={settings.Placement}",
            $"--Scheduler:EmbeddedFleet:SpeedUp={settings.SpeedUp}", $"--Scheduler:EmbeddedFleet:InProcessLinks={settings.NodeLinks == InProcessLinks}",
            $"--Scheduler:TokenStreamIntervalMilliseconds={settings.TokenIntervalMs}"];
        var redis = settings.Redis;
        string[] args = redis is { Length: > 0 }
            ? [.. common, "--Scheduler:Clustering=redis", $"--Scheduler:Redis={redis}", $"--Scheduler:ServiceId=bench-{Guid.NewGuid():N}", $"--Scheduler:ClusterId=bench-{Guid.NewGuid():N}"]
            : common;
        var app = StandaloneHost.Build(args, IgnoreSettingsFiles);
        await app.StartAsync(cancellationToken);
        try
        {
            // Every embedded node has registered its replicas once this completes.
            await app.Services.GetRequiredService<EmbeddedFleet>().Ready.WaitAsync(TimeSpan.FromSeconds(60), cancellationToken);
            return new EmbeddedSilo(app, app.Services.GetRequiredService<ListeningAddresses>());
        }
        catch
        {
            await Stop(app);
            throw;
        }
    }

    public ValueTask DisposeAsync() => Stop(_app);

    private static async ValueTask Stop(WebApplication app)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await app.StopAsync(timeout.Token);
        await app.DisposeAsync();
    }

    /// <summary>Everything the run depends on, as command-line configuration, so that no settings file decides it.</summary>
    private static string[] Arguments(int siloPort, int gatewayPort) =>
    [
        "--Scheduler:GrpcPort=0",
        "--Scheduler:HttpPort=0",
        "--Scheduler:OpenAiPort=0",
        "--Scheduler:BindAddress=127.0.0.1",
        $"--Scheduler:SiloPort={siloPort}",
        $"--Scheduler:GatewayPort={gatewayPort}",
        $"--Scheduler:AdminApiKey={AdminKey}",
        $"--Scheduler:Models:0:Name={Model}",
        "--Scheduler:Tenants:0:Id=bench",
        $"--Scheduler:Tenants:0:ApiKey={TenantKey}",
        "--Scheduler:Tenants:0:MaxQueuedJobs=100000",
        .. Enumerable.Range(2, ExtraTenants).SelectMany(i => new[]
        {
            $"--Scheduler:Tenants:{i - 1}:Id=bench-{i}",
            $"--Scheduler:Tenants:{i - 1}:ApiKey=bench-key-{i}",
            $"--Scheduler:Tenants:{i - 1}:MaxQueuedJobs=100000",
        }),
        "--Scheduler:EmbeddedFleet:Enabled=true",
        "--Scheduler:EmbeddedFleet:Nodes:0:NodeId=bench-h100",
        "--Scheduler:EmbeddedFleet:Nodes:0:Accelerators:0:Product=H100",
        "--Scheduler:EmbeddedFleet:Nodes:0:Accelerators:0:Count=2",
        $"--Scheduler:EmbeddedFleet:Nodes:0:Accelerators:0:Model={Model}",
        "--Scheduler:EmbeddedFleet:Nodes:1:NodeId=bench-a100",
        "--Scheduler:EmbeddedFleet:Nodes:1:Accelerators:0:Product=A100",
        "--Scheduler:EmbeddedFleet:Nodes:1:Accelerators:0:Count=1",
        $"--Scheduler:EmbeddedFleet:Nodes:1:Accelerators:0:Model={Model}",

        // Per-request information logs would be part of what is measured; warnings and errors still show.
        "--Logging:LogLevel:Default=Warning",
    ];

    /// <summary>
    /// The silo's appsettings.json is copied next to the bench assembly (it is content of a referenced project), and
    /// the standalone's own settings are compiled in. Configuration arrays merge by index, so their three default
    /// nodes and two tenants would mix with ours; the bench drops every settings file and relies on its arguments alone.
    /// </summary>
    private static void IgnoreSettingsFiles(IConfigurationBuilder configuration)
    {
        foreach (var source in configuration.Sources.OfType<FileConfigurationSource>().ToList())
        {
            configuration.Sources.Remove(source);
        }
    }
}
