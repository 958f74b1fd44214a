using Scheduler.Bench.Harness;
using Scheduler.Client;
using Scheduler.Tests.EndToEnd;

namespace Scheduler.Bench.Prefix;

/// <summary>
/// A scheduler silo process with one placement policy and worker node processes of simulated replicas (each with its
/// prefix cache) registered with it over loopback gRPC. Every process is killed by its PID when disposed.
/// </summary>
internal sealed class LiveFleet : IAsyncDisposable
{
    public const string Model = "llama-3.1-8b";
    public const string TenantKey = "prefix-bench-key";
    private const string AdminKey = "prefix-bench-admin";
    private const string NodeToken = "prefix-bench-node";

    private readonly List<ChildProcess> _processes = [];

    private LiveFleet(string address) => Address = address;

    /// <summary>The silo's gRPC address.</summary>
    public string Address { get; }

    /// <summary>Starts the silo and the nodes and waits until every replica is ready (at most two minutes).</summary>
    public static async Task<LiveFleet> StartAsync(string policy, PrefixBenchSettings settings, CancellationToken cancellationToken)
    {
        var ports = FreePorts.Take(5);
        var fleet = new LiveFleet($"http://127.0.0.1:{ports[0]}");
        try
        {
            fleet._processes.Add(Dotnet(Assembly("Scheduler.Silo", settings.Configuration),
            [
                $"--Scheduler:GrpcPort={ports[0]}", $"--Scheduler:HttpPort={ports[1]}", $"--Scheduler:OpenAiPort={ports[2]}",
                $"--Scheduler:SiloPort={ports[3]}", $"--Scheduler:GatewayPort={ports[4]}",
                $"--Scheduler:AdminApiKey={AdminKey}", $"--Scheduler:NodeToken={NodeToken}",
                $"--Scheduler:Models:0:Name={Model}",
                $"--Scheduler:Scheduling:PlacementPolicy={policy}",
                "--Scheduler:Tenants:0:Id=bench", $"--Scheduler:Tenants:0:ApiKey={TenantKey}",
                "--Logging:LogLevel:Default=Warning",
            ]));
            for (var node = 0; node < settings.Nodes; node++)
            {
                fleet._processes.Add(Dotnet(Assembly("Scheduler.Worker", settings.Configuration),
                [
                    $"--Worker:NodeId=prefix-node-{node}", $"--Worker:SchedulerAddress={fleet.Address}", $"--Worker:NodeToken={NodeToken}",
                    $"--Worker:Accelerators:0:Product={settings.Product}", $"--Worker:Accelerators:0:Count={settings.ReplicasPerNode}",
                    $"--Worker:Accelerators:0:Model={Model}",
                    "--Logging:LogLevel:Default=Warning",
                ]));
            }

            await fleet.WaitForReplicasAsync(settings.Nodes * settings.ReplicasPerNode, cancellationToken);
            return fleet;
        }
        catch
        {
            await fleet.DisposeAsync();
            throw;
        }
    }

    /// <summary>The placement's index of the replicas' prefix caches, summed over them: the blocks it holds as cached,
    /// and those it had to forget because their engine reported them evicted (AdminService).</summary>
    public async Task<(long Blocks, long Forgotten)> PrefixIndexAsync(CancellationToken cancellationToken)
    {
        using var admin = new SchedulerAdminClient(Address, AdminKey);
        var replicas = await admin.ListReplicasAsync(Model, cancellationToken: cancellationToken);
        return (replicas.Sum(r => (long)r.CachedPrefixBlocks), replicas.Sum(r => r.PrefixBlocksForgotten));
    }

    public async ValueTask DisposeAsync()
    {
        // Nodes first, so none is left reconnecting to a silo that is gone.
        for (var i = _processes.Count - 1; i >= 0; i--)
        {
            await _processes[i].DisposeAsync();
        }
    }

    /// <summary>Runs <c>dotnet <paramref name="assembly"/> <paramref name="arguments"/></c>, keeping its output for an error.</summary>
    private static ChildProcess Dotnet(string assembly, IEnumerable<string> arguments) =>
        ChildProcess.Start("dotnet", [assembly, .. arguments], keepOutput: true);

    private async Task WaitForReplicasAsync(int replicas, CancellationToken cancellationToken)
    {
        using var admin = new SchedulerAdminClient(Address, AdminKey);
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (true)
        {
            if (_processes.FirstOrDefault(p => p.HasExited) is { } exited)
            {
                throw new InvalidOperationException($"process {exited.Pid} exited while the fleet started:{Environment.NewLine}{string.Join(Environment.NewLine, exited.Output.TakeLast(50))}");
            }

            try
            {
                if ((await admin.ListReplicasAsync(Model, cancellationToken: cancellationToken)).Count(r => r.State == "ready") >= replicas)
                {
                    return;
                }
            }
            catch (Grpc.Core.RpcException) when (DateTime.UtcNow < deadline)
            {
                // The silo is still starting.
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{replicas} replicas did not become ready in two minutes");
            }

            await Task.Delay(250, cancellationToken);
        }
    }

    /// <summary>A built assembly under src/ (build it first: <c>dotnet build -c Release src/Scheduler.Silo src/Scheduler.Worker</c>).</summary>
    private static string Assembly(string project, string configuration)
    {
        var path = Path.Combine(RepositoryPaths.Root(), "src", project, "bin", configuration, "net10.0", project + ".dll");
        return File.Exists(path) ? path : throw new FileNotFoundException($"build {project} in {configuration} first", path);
    }
}
