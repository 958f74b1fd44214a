using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Scheduler.Client;
using Scheduler.Protos.V1;
using Scheduler.Silo.Hosting;

namespace Scheduler.Tests.EndToEnd;

/// <summary>
/// A real deployment on loopback: one silo hosted in this process on free ports (no embedded fleet) and two worker
/// nodes as separate OS processes that register over gRPC. Tenants: three with weights 1, 2, 1, and one capped
/// at two queued jobs. A second model, "parked-model", has no replica, so its jobs stay queued; a third,
/// "fair-model", has none until a test starts a node for it. A model with <see cref="OverloadQueueLength"/> jobs
/// queued sheds sheddable submissions. A fourth, "scripted-model", is served only by fake nodes that tests script; its
/// context (131,072 tokens) is larger than their replicas' KV caches (100,000). A fifth, "org/slashed-model", has a
/// slash in its name, as Hugging Face names have, and no replica.
/// </summary>
public sealed class SchedulerCluster : IAsyncLifetime
{
    public const string Model = "llama-3.1-8b";
    public const string ParkedModel = "parked-model";
    public const string FairModel = "fair-model";
    public const int OverloadQueueLength = 3;

    /// <summary>Seconds of silence after which a streamed OpenAI answer gets a keep-alive comment.</summary>
    public const int OpenAiStreamKeepAliveSeconds = 2;

    /// <summary>A model only the tests' scripted fake worker nodes serve (see Hostile/FakeWorkerNode).</summary>
    public const string ScriptedModel = "scripted-model";

    /// <summary>A model named as Hugging Face names them, with a slash; it has no replica.</summary>
    public const string SlashedModel = "org/slashed-model";

    public const string NodeToken = "e2e-node-token";
    public const string AdminKey = "e2e-admin-key";
    public const int MaxOutputTokens = 512;
    /// <summary>{Model}'s vocabulary size: prompt token ids at or above it are refused.</summary>
    public const int VocabularySize = 128_256;

    public static readonly (string Id, string Key, double Weight)[] Tenants =
    [
        ("tenant-a", "tenant-a-key", 1),
        ("tenant-b", "tenant-b-key", 2),
        ("tenant-c", "tenant-c-key", 1),
    ];

    public const string CappedTenant = "capped";
    public const string CappedKey = "capped-tenant-key";

    private readonly List<WorkerProcess> _workers = [];
    private WebApplication? _silo;

    public string Address { get; private set; } = "";

    /// <summary>The silo's OpenAI-compatible API, e.g. "http://127.0.0.1:8080" (its routes are under /v1).</summary>
    public string OpenAiAddress { get; private set; } = "";

    public GrpcChannel Channel { get; private set; } = null!;

    public IReadOnlyList<WorkerProcess> Workers => _workers;

    /// <summary>The in-process silo's services, for tests that look inside (e.g. stream subscriptions left over).</summary>
    public IServiceProvider SiloServices => _silo!.Services;

    /// <summary>What the silo logged (warnings and worse), for tests that check what an operator would read.</summary>
    internal CapturedLogs Logs { get; } = new();

    public async Task InitializeAsync()
    {
        string[] args =
        [
            "--Scheduler:GrpcPort=0", "--Scheduler:HttpPort=0", "--Scheduler:OpenAiPort=0",
            $"--Scheduler:SiloPort={FreePort.Next()}", $"--Scheduler:GatewayPort={FreePort.Next()}",
            $"--Scheduler:AdminApiKey={AdminKey}", $"--Scheduler:NodeToken={NodeToken}",
            $"--Scheduler:Models:0:Name={Model}", $"--Scheduler:Models:0:MaxOutputTokens={MaxOutputTokens}", $"--Scheduler:Models:0:VocabularySize={VocabularySize}",
            $"--Scheduler:Models:1:Name={ParkedModel}",
            $"--Scheduler:Models:2:Name={FairModel}",
            $"--Scheduler:Scheduling:OverloadQueueLength={OverloadQueueLength}",
            $"--Scheduler:Models:3:Name={ScriptedModel}", "--Scheduler:Models:3:MaxContextTokens=131072",
            $"--Scheduler:Models:4:Name={SlashedModel}",
            $"--Scheduler:Tenants:0:Id={Tenants[0].Id}", $"--Scheduler:Tenants:0:ApiKey={Tenants[0].Key}", $"--Scheduler:Tenants:0:Weight={Tenants[0].Weight}",
            $"--Scheduler:Tenants:1:Id={Tenants[1].Id}", $"--Scheduler:Tenants:1:ApiKey={Tenants[1].Key}", $"--Scheduler:Tenants:1:Weight={Tenants[1].Weight}",
            $"--Scheduler:Tenants:2:Id={Tenants[2].Id}", $"--Scheduler:Tenants:2:ApiKey={Tenants[2].Key}", $"--Scheduler:Tenants:2:Weight={Tenants[2].Weight}",
            $"--Scheduler:Tenants:3:Id={CappedTenant}", $"--Scheduler:Tenants:3:ApiKey={CappedKey}", "--Scheduler:Tenants:3:MaxQueuedJobs=2",
            // Tests here present bad keys and node tokens on purpose, all from 127.0.0.1: the guard that would refuse
            // that address after a few is tested on a silo of its own (Silo/Api/AuthFailureSlowdownTests).
            "--Scheduler:AuthFailureLimit=0",
            // A parked job's stream gets a keep-alive comment soon enough to see (OpenAiStreamKeepAliveTests).
            $"--Scheduler:OpenAiStreamKeepAliveSeconds={OpenAiStreamKeepAliveSeconds}",
            "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Scheduler=Warning",
        ];
        var builder = SchedulerHost.CreateBuilder(args);
        builder.Logging.AddProvider(Logs);
        _silo = SchedulerHost.MapEndpoints(builder.Build());
        await _silo.StartAsync();
        Address = _silo.Services.GetRequiredService<ListeningAddresses>().Grpc;
        OpenAiAddress = _silo.Services.GetRequiredService<ListeningAddresses>().OpenAi;
        Channel = GrpcChannel.ForAddress(Address);

        // Small nodes, so capacity limits bind under load: slots on the H100 and KV cache on the L4s.
        _workers.Add(WorkerProcess.Start("e2e-node-1", Address, "20", ("H100", 1, 12), ("L4", 1, null)));
        _workers.Add(WorkerProcess.Start("e2e-node-2", Address, "20", ("A100", 1, 16), ("L4", 1, null)));
        await WaitForReplicas(4, TimeSpan.FromSeconds(60));
    }

    public SchedulerClient Tenant(int index) => new(Channel, Tenants[index].Key);

    public SchedulerClient ClientWithKey(string key) => new(Channel, key);

    public SchedulerAdminClient Admin() => new(Channel, AdminKey);

    /// <summary>Makes a tenant of the test's own with <paramref name="quotas"/>, its id and key starting with
    /// <paramref name="name"/>; returns its key.</summary>
    public async Task<string> NewTenantKey(string name, TenantQuotas quotas)
    {
        using var admin = Admin();
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var key = $"{name}-key-{suffix}";
        await admin.PutTenantAsync(new PutTenantRequest { TenantId = $"{name}-{suffix}", Weight = 1, ApiKey = key, Quotas = quotas });
        return key;
    }

    /// <summary>Starts one more worker node process; the caller owns it.</summary>
    public WorkerProcess StartExtraWorker(string nodeId, params (string Product, int Count, int? MaxSequences)[] accelerators) =>
        WorkerProcess.Start(nodeId, Address, "20", accelerators);

    /// <summary>Starts one more worker node process whose accelerators serve <paramref name="model"/>; the caller owns it.</summary>
    public WorkerProcess StartExtraWorkerFor(string model, string nodeId, string speedUp, params (string Product, int Count, int? MaxSequences)[] accelerators) =>
        WorkerProcess.Start(nodeId, Address, speedUp, model, accelerators);

    public Task WaitForReplicas(int count, TimeSpan timeout, string model = Model) =>
        WaitUntil(replicas => replicas.Count(r => r.State == "ready") >= count, $"{count} ready replicas", timeout, model);

    public Task WaitForNode(string nodeId, string model = Model) =>
        WaitUntil(replicas => replicas.Any(r => r.NodeId == nodeId && r.State == "ready"), $"node {nodeId}", TimeSpan.FromSeconds(60), model);

    /// <summary>Waits until no tenant has a queued or running job, so usage counters stand still.</summary>
    public async Task WaitQuiet()
    {
        using var admin = Admin();
        for (var i = 0; i < 300; i++)
        {
            var tenants = await admin.ListTenantsAsync();
            if (tenants.Where(t => t.TenantId != CappedTenant).All(t => t.QueuedJobs == 0 && t.RunningJobs == 0))
            {
                return;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException("tenants still have jobs in flight");
    }

    private async Task WaitUntil(Func<IReadOnlyList<Replica>, bool> condition, string what, TimeSpan timeout, string model = Model)
    {
        using var admin = Admin();
        var deadline = DateTime.UtcNow + timeout;
        while (!condition(await admin.ListReplicasAsync(model)))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("timed out waiting for " + what);
            }

            await Task.Delay(200);
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var worker in _workers)
        {
            await worker.DisposeAsync();
        }

        Channel?.Dispose();
        if (_silo is not null)
        {
            await _silo.StopAsync();
            await _silo.DisposeAsync();
        }

        Logs.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class SchedulerClusterCollection : ICollectionFixture<SchedulerCluster>
{
    public const string Name = "scheduler cluster";
}
