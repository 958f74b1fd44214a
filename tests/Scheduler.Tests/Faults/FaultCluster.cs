using Grpc.Net.Client;
using Scheduler.Client;
using Scheduler.Protos.V1;
using Scheduler.Tests.EndToEnd;
using Xunit.Abstractions;

namespace Scheduler.Tests.Faults;

/// <summary>
/// A production-shaped deployment on loopback, made fresh for each fault test: a real redis-server, several silo
/// processes with Redis clustering and Redis grain storage, and worker node processes that know every silo.
/// Everything is stopped by PID on dispose; the silos' logs go to the test output when a test fails.
/// </summary>
public sealed class FaultCluster : IAsyncDisposable
{
    public const string Model = "llama-3.1-8b";
    public const string AdminKey = "faults-admin-key";
    public const string NodeToken = "e2e-node-token";

    public static readonly (string Id, string Key)[] Tenants =
    [
        ("fault-a", "fault-a-key"),
        ("fault-b", "fault-b-key"),
        ("fault-c", "fault-c-key"),
    ];

    // A silo normally serves within ten seconds; a loaded two-core machine (a CI neighbour building) has taken over 60.
    internal static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(150);

    private readonly ITestOutputHelper _output;
    private readonly List<SiloProcess> _silos = [];
    private readonly List<WorkerProcess> _workers = [];
    private RedisServer? _redis;
    private string _speedUp = "20";

    private FaultCluster(ITestOutputHelper output) => _output = output;

    public IReadOnlyList<SiloProcess> Silos => _silos;

    public IReadOnlyList<WorkerProcess> Workers => _workers;

    public IReadOnlyList<string> Addresses => [.. _silos.Select(s => s.Address)];

    /// <summary>The cluster's redis-server (to pause, as an outage).</summary>
    public RedisServer Redis => _redis ?? throw new InvalidOperationException("the cluster has not started");

    /// <summary>Replicas the workers serve when all are up.</summary>
    public int ReplicaCount { get; private set; }

    /// <summary>Starts a cluster, runs <paramref name="test"/> on it, and writes the silos' logs to the test output if it fails.</summary>
    /// <param name="output">Where the silos' logs go when the test fails.</param>
    /// <param name="test">The test, given the running cluster.</param>
    /// <param name="silos">Silo processes.</param>
    /// <param name="workers">Worker node processes.</param>
    /// <param name="siloSettings">More "--Scheduler:…=…" settings for every silo.</param>
    /// <param name="speedUp">The workers' Worker:SpeedUp: 20 by default; "1" runs at the profiles' real speed.</param>
    public static async Task RunAsync(
        ITestOutputHelper output, Func<FaultCluster, Task> test, int silos = 3, int workers = 3, string[]? siloSettings = null, string speedUp = "20")
    {
        await using var cluster = await StartAsync(output, silos, workers, siloSettings ?? [], speedUp);
        try
        {
            await test(cluster);
        }
        catch
        {
            cluster.DumpLogs();
            throw;
        }
    }

    private static async Task<FaultCluster> StartAsync(ITestOutputHelper output, int silos, int workers, string[] siloSettings, string speedUp)
    {
        var cluster = new FaultCluster(output);
        try
        {
            await cluster.StartCoreAsync(silos, workers, speedUp, siloSettings);
            return cluster;
        }
        catch
        {
            cluster.DumpLogs();
            await cluster.DisposeAsync();
            throw;
        }
    }

    private async Task StartCoreAsync(int silos, int workers, string speedUp, string[] siloSettings)
    {
        _redis = await RedisServer.StartAsync();
        var clusterId = "faults-" + Guid.NewGuid().ToString("N")[..8];
        var args = new List<string>
        {
            "--Scheduler:Clustering=redis", $"--Scheduler:Redis={_redis.Endpoint}",
            $"--Scheduler:ClusterId={clusterId}", $"--Scheduler:ServiceId={clusterId}",
            $"--Scheduler:AdminApiKey={AdminKey}", $"--Scheduler:NodeToken={NodeToken}",
            "--Scheduler:Scheduling:HeartbeatInterval=00:00:01", "--Scheduler:Scheduling:NodeLease=00:00:06",
            "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Scheduler=Information", "--Logging:LogLevel:Orleans=Warning",
        };
        for (var i = 0; i < Tenants.Length; i++)
        {
            args.Add($"--Scheduler:Tenants:{i}:Id={Tenants[i].Id}");
            args.Add($"--Scheduler:Tenants:{i}:ApiKey={Tenants[i].Key}");
            args.Add($"--Scheduler:Tenants:{i}:MaxQueuedJobs=100000");
        }

        args.AddRange(siloSettings);

        // The first silo starts alone so the cluster forms around it; the others join.
        _silos.Add(SiloProcess.Start(0, args));
        await WaitServing(_silos[0], StartTimeout);
        for (var i = 1; i < silos; i++)
        {
            _silos.Add(SiloProcess.Start(i, args));
        }

        foreach (var silo in _silos.Skip(1))
        {
            await WaitServing(silo, StartTimeout);
        }

        _speedUp = speedUp;
        for (var i = 0; i < workers; i++)
        {
            StartWorker();
        }

        await WaitForReadyReplicas(ReplicaCount, StartTimeout);
    }

    /// <summary>Starts one more worker node, <c>fault-node-N</c> (N its index in <see cref="Workers"/>), with the same two
    /// replicas as the others, stopped with the cluster; <see cref="ReplicaCount"/> counts its replicas. Wait for them with
    /// <see cref="WaitForReadyReplicas"/>.</summary>
    public WorkerProcess StartWorker()
    {
        var i = _workers.Count;
        // Each node lists the silos starting from a different one, so registrations spread.
        var order = string.Join(',', Addresses.Skip(i % _silos.Count).Concat(Addresses.Take(i % _silos.Count)));
        var worker = WorkerProcess.Start($"fault-node-{i}", order, _speedUp, ("H100", 1, 24), ("L4", 1, 12));
        _workers.Add(worker);
        ReplicaCount += 2;
        return worker;
    }

    public SchedulerAdminClient Admin(SiloProcess? via = null) => new((via ?? Alive().First()).Address, AdminKey);

    public SchedulerClient Tenant(int index, SiloProcess? via = null) => new((via ?? Alive().First()).Address, Tenants[index].Key);

    public IEnumerable<SiloProcess> Alive() => _silos.Where(s => !s.HasExited);

    public async Task WaitForReadyReplicas(int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                using var admin = Admin();
                var replicas = await admin.ListReplicasAsync(Model, DateTime.UtcNow.AddSeconds(5));
                if (replicas.Count(r => r.State == "ready") >= count)
                {
                    return;
                }
            }
            catch (Grpc.Core.RpcException) when (DateTime.UtcNow < deadline)
            {
                // A silo still starting or a cluster still settling.
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"fewer than {count} ready replicas after {timeout}");
            }

            await Task.Delay(250);
        }
    }

    /// <summary>Waits until <paramref name="silo"/>'s gRPC health answers SERVING; fails if it exits first.</summary>
    internal static async Task WaitServing(SiloProcess silo, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        using var channel = GrpcChannel.ForAddress(silo.Address);
        var health = new Grpc.Health.V1.Health.HealthClient(channel);
        while (true)
        {
            if (silo.HasExited)
            {
                throw new InvalidOperationException($"silo {silo.Index} exited with code {silo.ExitCode}:\n{string.Join('\n', silo.Output.TakeLast(40))}");
            }

            try
            {
                var reply = await health.CheckAsync(new Grpc.Health.V1.HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(2));
                if (reply.Status == Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving)
                {
                    return;
                }
            }
            catch (Grpc.Core.RpcException) when (DateTime.UtcNow < deadline)
            {
                // Not listening yet.
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"silo {silo.Index} did not serve within {timeout}");
            }

            await Task.Delay(200);
        }
    }

    /// <summary>Writes the silos' logs to the test output (call it when a test fails, or to show the recovery).</summary>
    public void DumpLogs(int linesPerSilo = 60)
    {
        foreach (var silo in _silos)
        {
            _output.WriteLine($"--- silo {silo.Index} (pid {silo.Pid}{(silo.HasExited ? $", exited {silo.ExitCode}" : "")}) ---");
            foreach (var line in silo.Output.TakeLast(linesPerSilo))
            {
                _output.WriteLine(line);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var worker in _workers)
        {
            await worker.DisposeAsync();
        }

        foreach (var silo in _silos)
        {
            await silo.DisposeAsync();
        }

        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }
    }
}
