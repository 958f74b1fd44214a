using System.Net;
using StackExchange.Redis;

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

    /// <summary>
    /// How often a silo checks that Redis still holds the data the cluster started on ("redis" clustering): a silo that
    /// finds it lost exits (code 3) to be restarted into the store as it is, rather than live on in a cluster split from
    /// the silos started since (<c>Persistence/StoreLossWatch</c>). One GET per silo per interval.
    /// </summary>
    public TimeSpan StoreCheckInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Checks the settings before the silo is built, so a mistake is one line naming its key, not an Orleans
    /// or Redis failure at start-up; returns the Redis configuration for "redis" clustering (null otherwise).</summary>
    /// <exception cref="ConfigurationRefusedException">A setting is invalid; the message names it.</exception>
    internal ConfigurationOptions? Validate()
    {
        Ports.Require("Scheduler:SiloPort", SiloPort, allowAny: false);
        Ports.Require("Scheduler:GatewayPort", GatewayPort, allowAny: false);
        switch (Clustering)
        {
            case ClusterHosting.Localhost when !string.IsNullOrWhiteSpace(Redis):
                // A Redis address with the default clustering is a cluster command missing half its settings: each silo
                // started so would serve on its own, its tenants, keys and jobs in memory and lost at a restart.
                throw new ConfigurationRefusedException(
                    $"Scheduler:Redis is set but Scheduler:Clustering is '{ClusterHosting.Localhost}', which keeps state in memory and "
                    + $"forms a cluster of one silo: set Scheduler:Clustering={ClusterHosting.Redis} to use Redis, or leave Scheduler:Redis empty.");
            case ClusterHosting.Localhost:
                return null;
            case ClusterHosting.Redis:
                break;
            default:
                throw new ConfigurationRefusedException(
                    $"Scheduler:Clustering must be '{ClusterHosting.Localhost}' or '{ClusterHosting.Redis}', not '{Clustering}'.");
        }

        if (string.IsNullOrWhiteSpace(Redis))
        {
            throw new ConfigurationRefusedException("Scheduler:Redis (host:port) must be set when Scheduler:Clustering is 'redis'.");
        }

        Require("Scheduler:ClusterId", !string.IsNullOrWhiteSpace(ClusterId), "must not be empty");
        Require("Scheduler:ServiceId", !string.IsNullOrWhiteSpace(ServiceId), "must not be empty");
        Require("Scheduler:AdvertisedAddress", IPAddress.TryParse(AdvertisedAddress, out _), $"must be an IP address (the pod IP on Kubernetes), not '{AdvertisedAddress}'");
        Require("Scheduler:ProbeTimeout", ProbeTimeout > TimeSpan.Zero, $"must be positive, not {ProbeTimeout}");
        Require("Scheduler:MissedProbesLimit", MissedProbesLimit >= 1, $"must be at least 1, not {MissedProbesLimit}");
        Require("Scheduler:DirectoryLease", DirectoryLease > TimeSpan.Zero, $"must be positive, not {DirectoryLease}");
        Require("Scheduler:StoreCheckInterval", StoreCheckInterval > TimeSpan.Zero, $"must be positive, not {StoreCheckInterval}");
        try
        {
            return ConfigurationOptions.Parse(Redis);
        }
        // An unknown keyword or a value of the wrong type, e.g. "127.0.0.1:6379,ssl=maybe".
        catch (ArgumentException ex)
        {
            throw new ConfigurationRefusedException($"Scheduler:Redis is not a StackExchange.Redis configuration string: {ex.Message}", ex);
        }
    }

    private static void Require(string key, bool holds, string what)
    {
        if (!holds)
        {
            throw new ConfigurationRefusedException($"{key} {what}.");
        }
    }
}
