namespace Scheduler.Silo.Hosting;

/// <summary>How silos find each other and where state lives (section "Scheduler").</summary>
public sealed class ClusteringOptions
{
    /// <summary>Orleans clustering: "localhost" (one silo, in-memory state; the default) or "redis" (several
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

    /// <summary>
    /// Failure detection: missed probes before a silo is suspected ("redis" clustering). Two made a loaded 2-core box
    /// evict a healthy silo that stalled ~2 s while rebuilding a crashed silo's placement: once a cluster of three is
    /// down to two, one vote evicts. Three needs a 3 s stall and costs ~1 s of detection.
    /// </summary>
    public int MissedProbesLimit { get; set; } = 3;

    /// <summary>
    /// How long after a silo crashed its grains may not activate elsewhere ("redis" clustering), counted from when
    /// failure detection could first have noticed (Orleans' <c>GrainDirectoryOptions.RangeLeaseDuration</c>). It covers
    /// a silo wrongly declared dead that has not yet learned it and stopped. Orleans' 30 s holds a crashed silo's
    /// grains ~22 s past its declared death with these probe settings; 10 s holds them ~2 s.
    /// </summary>
    public TimeSpan DirectoryLease { get; set; } = TimeSpan.FromSeconds(10);
}
