using Grpc.Net.Client;
using Scheduler.Client;
using Scheduler.Tests.EndToEnd;
using Scheduler.Tests.Faults;

namespace Scheduler.Tests.Silo.Telemetry;

/// <summary>
/// A silo and a worker node, each its own OS process on loopback, both exporting spans over OTLP/HTTP to an
/// <see cref="OtlpReceiver"/> in this process, configured only by the standard OTEL_* environment variables. The silo
/// refreshes its fleet gauges every half second; its capacity signal
/// measures demand over <see cref="CapacityWindow"/>. Each test uses its own tenant, so their counts do not mix.
/// </summary>
public sealed class ObservedCluster : IAsyncLifetime
{
    public const string Model = "obs-model";
    public const string ParkedModel = "obs-parked";
    public const string ScriptedModel = "obs-scripted";
    public const string AdminKey = "obs-admin-key";
    public const string WorkerNode = "obs-node";

    /// <summary>The worker pool its accelerator is in (Worker:Accelerators:0:Pool), as the Helm chart names it.</summary>
    public const string WorkerPool = "l4-spot";

    public static readonly (string Id, string Key)[] Tenants = [("obs-counts", "obs-counts-key"), ("obs-trace", "obs-trace-key"), ("obs-gauges", "obs-gauges-key"), ("obs-capacity", "obs-capacity-key"), ("obs-refusals", "obs-refusals-key")];

    /// <summary>The index of the tenant allowed one queued job, whose second is refused by that quota.</summary>
    public const int CappedTenant = 4;

    /// <summary>The window the placements' capacity signal measures arrivals over: short, so a test sees it fall.</summary>
    public static readonly TimeSpan CapacityWindow = TimeSpan.FromSeconds(10);

    private WorkerProcess? _worker;

    public OtlpReceiver Receiver { get; private set; } = null!;

    public SiloProcess Silo { get; private set; } = null!;

    public GrpcChannel Channel { get; private set; } = null!;

    public HttpClient Http { get; } = new();

    public SchedulerClient Tenant(int index) => new(Channel, Tenants[index].Key);

    public SchedulerAdminClient Admin() => new(Channel, AdminKey);

    public Task<IReadOnlyList<PrometheusSample>> ScrapeAsync() => PrometheusScrape.ReadAsync(Http, Silo.HttpAddress);

    public async Task InitializeAsync()
    {
        Receiver = await OtlpReceiver.StartAsync();
        var otel = new Dictionary<string, string>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = Receiver.Endpoint,
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",

            // Export spans within a fraction of a second rather than the default 5 s.
            ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
        };
        List<string> args =
        [
            $"--Scheduler:AdminApiKey={AdminKey}", $"--Scheduler:NodeToken={SchedulerCluster.NodeToken}",
            $"--Scheduler:Models:0:Name={Model}", $"--Scheduler:Models:1:Name={ParkedModel}", $"--Scheduler:Models:2:Name={ScriptedModel}",
            "--Scheduler:Telemetry:GaugeRefresh=00:00:00.5",
            $"--Scheduler:Scheduling:Capacity:Window={CapacityWindow}",
            // Bursts held no longer than the window and no warm floor: an idle pool is then wanted no more.
            $"--Scheduler:Scheduling:Capacity:PeakLookback={CapacityWindow}",
            "--Scheduler:Scheduling:Capacity:WarmFloor=0",
            "--Logging:LogLevel:Default=Warning",
        ];
        for (var i = 0; i < Tenants.Length; i++)
        {
            args.Add($"--Scheduler:Tenants:{i}:Id={Tenants[i].Id}");
            args.Add($"--Scheduler:Tenants:{i}:ApiKey={Tenants[i].Key}");
        }

        args.Add($"--Scheduler:Tenants:{CappedTenant}:MaxQueuedJobs=1");

        Silo = SiloProcess.Start(0, args, otel);
        Channel = GrpcChannel.ForAddress(Silo.Address);
        await WaitUntil(async admin => (await admin.ListModelsAsync()).Count == 3, "the silo to serve");
        _worker = WorkerProcess.Start(WorkerNode, Silo.Address, "20", Model, settings: [$"--Worker:Accelerators:0:Pool={WorkerPool}"], otel, ("L4", 1, null));
        await WaitUntil(async admin => (await admin.ListReplicasAsync(Model)).Any(r => r.State == "ready"), "the worker's replica");
    }

    /// <summary>Waits until no tenant has a queued or running job, so the counters stand still.</summary>
    public Task WaitQuiet(string tenant) =>
        WaitUntil(async admin => await admin.GetTenantAsync(tenant) is { QueuedJobs: 0, RunningJobs: 0 }, "no job of " + tenant + " in flight");

    private async Task WaitUntil(Func<SchedulerAdminClient, Task<bool>> condition, string what)
    {
        using var admin = Admin();
        // Generous: a loaded two-core machine may take its time to start a silo.
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (true)
        {
            try
            {
                if (await condition(admin))
                {
                    return;
                }
            }
            catch (Grpc.Core.RpcException)
            {
                // Still starting; the deadline below ends the wait.
            }

            if (DateTime.UtcNow > deadline || Silo.HasExited)
            {
                throw new TimeoutException($"timed out waiting for {what}; silo output:\n{string.Join('\n', Silo.Output.TakeLast(40))}");
            }

            await Task.Delay(200);
        }
    }

    public async Task DisposeAsync()
    {
        if (_worker is not null)
        {
            await _worker.DisposeAsync();
        }

        Channel?.Dispose();
        if (Silo is not null)
        {
            await Silo.DisposeAsync();
        }

        Http.Dispose();
        if (Receiver is not null)
        {
            await Receiver.DisposeAsync();
        }
    }
}
