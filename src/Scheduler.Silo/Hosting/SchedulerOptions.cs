namespace Scheduler.Silo.Hosting;

/// <summary>The silo's settings (section "Scheduler"). The defaults are the embedded single-node scheduler.</summary>
public sealed class SchedulerOptions
{
    public const string Section = "Scheduler";

    /// <summary>Cleartext HTTP/2 port for gRPC (InferenceService, AdminService, NodeRegistryService, health). 0 = any free port.</summary>
    public int GrpcPort { get; set; } = 5000;

    /// <summary>HTTP/1.1 port for /metrics, /healthz and the Orleans dashboard. 0 = any free port.</summary>
    public int HttpPort { get; set; } = 5080;

    /// <summary>Address the ports bind to.</summary>
    public string BindAddress { get; set; } = "127.0.0.1";

    /// <summary>Key for AdminService calls. The embedded default uses a well-known development key.</summary>
    public string AdminApiKey { get; set; } = "dev-admin-key";

    /// <summary>
    /// Largest gRPC message the silo accepts; a bigger one is refused with RESOURCE_EXHAUSTED before it is parsed.
    /// Sized above the largest valid request (a model's MaxPromptBytes of text, or a full context of token ids)
    /// and small enough that a flood of them cannot exhaust memory.
    /// </summary>
    public int MaxReceiveMessageBytes { get; set; } = 8 << 20;

    /// <summary>How long a silo trusts a tenant key it has checked; a revoked key may work that long. 0 = always ask.</summary>
    public int ApiKeyCacheSeconds { get; set; } = 10;

    /// <summary>Token worker nodes present to register, and the scheduler presents to them.</summary>
    public string NodeToken { get; set; } = "dev-node-token";

    /// <summary>Orleans clustering: "localhost" (one silo, in-memory state; the embedded default) or "redis" (several
    /// silos, Redis membership, Redis grain storage and job journal).</summary>
    public string Clustering { get; set; } = "localhost";

    /// <summary>Redis for "redis" clustering, in StackExchange.Redis form ("host:port[,password=…]").</summary>
    public string Redis { get; set; } = "";

    /// <summary>Silos with the same cluster id form one cluster ("redis" clustering).</summary>
    public string ClusterId { get; set; } = "scheduler";

    /// <summary>Names the state in storage; keep it across deployments ("redis" clustering).</summary>
    public string ServiceId { get; set; } = "scheduler";

    /// <summary>Address other silos reach this one at ("redis" clustering): the pod IP on Kubernetes.</summary>
    public string AdvertisedAddress { get; set; } = "127.0.0.1";

    /// <summary>Silo-to-silo port (Orleans). Each silo on one host needs its own.</summary>
    public int SiloPort { get; set; } = 11111;

    /// <summary>Orleans client gateway port. Each silo on one host needs its own.</summary>
    public int GatewayPort { get; set; } = 30000;

    /// <summary>Failure detection: how long a probe of another silo may take ("redis" clustering).</summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Failure detection: missed probes before a silo is suspected ("redis" clustering).</summary>
    public int MissedProbesLimit { get; set; } = 2;

    /// <summary>
    /// How long after a silo crashed its grains may not activate elsewhere ("redis" clustering), counted from when
    /// failure detection could first have noticed (Orleans' <c>GrainDirectoryOptions.RangeLeaseDuration</c>). It covers
    /// a silo wrongly declared dead that has not yet learned it and stopped. Orleans' 30 s holds a crashed silo's
    /// grains ~22 s past its declared death with these probe settings; 10 s holds them ~2 s.
    /// </summary>
    public TimeSpan DirectoryLease { get; set; } = TimeSpan.FromSeconds(10);

    public List<ModelOptions> Models { get; set; } = [];

    /// <summary>Tenants created at start-up if absent (the embedded default has "dev" with key "dev-key").</summary>
    public List<TenantSeedOptions> Tenants { get; set; } = [];

    /// <summary>Worker nodes hosted inside this process on loopback ports (the embedded simulated fleet).</summary>
    public EmbeddedFleetOptions EmbeddedFleet { get; set; } = new();
}

/// <summary>A model the scheduler accepts jobs for.</summary>
public sealed class ModelOptions
{
    public string Name { get; set; } = "";

    public int MaxContextTokens { get; set; } = 8192;

    public int MaxOutputTokens { get; set; } = 4096;

    /// <summary>Tokenizer used to count text prompts: "cl100k_base".</summary>
    public string Tokenizer { get; set; } = "cl100k_base";

    /// <summary>TTFT objective for jobs that set none.</summary>
    public int DefaultTtftObjectiveMs { get; set; } = 2000;

    /// <summary>Largest prompt accepted, in bytes of UTF-8 text.</summary>
    public int MaxPromptBytes { get; set; } = 1 << 20;
}

public sealed class TenantSeedOptions
{
    public string Id { get; set; } = "";

    public string ApiKey { get; set; } = "";

    public double Weight { get; set; } = 1;

    public int MaxQueuedJobs { get; set; }
}

public sealed class EmbeddedFleetOptions
{
    public bool Enabled { get; set; }

    /// <summary>Speed-up applied to every simulated accelerator ("instant" or a factor; 1 = real time).</summary>
    public string SpeedUp { get; set; } = "1";

    public List<EmbeddedNodeOptions> Nodes { get; set; } = [];
}

public sealed class EmbeddedNodeOptions
{
    public string NodeId { get; set; } = "";

    public List<EmbeddedAcceleratorOptions> Accelerators { get; set; } = [];
}

public sealed class EmbeddedAcceleratorOptions
{
    public string Product { get; set; } = "H100";

    public int Count { get; set; } = 1;

    public string Model { get; set; } = "llama-3.1-8b";
}
