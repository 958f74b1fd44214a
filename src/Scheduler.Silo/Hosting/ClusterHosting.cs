using System.Net;
using Orleans.Configuration;
using Orleans.Serialization;
using Scheduler.Silo.Persistence;
using StackExchange.Redis;

namespace Scheduler.Silo.Hosting;

/// <summary>
/// Chooses how silos find each other and where state lives: "localhost" (one silo, in-memory state, the default)
/// or "redis" (any number of silos, Redis membership, Redis grain storage and job journal).
/// </summary>
internal static class ClusterHosting
{
    public const string Localhost = "localhost";
    public const string Redis = "redis";

    /// <summary>Configures clustering and storage from settings <see cref="ClusteringOptions.Validate"/> accepted, whose
    /// Redis configuration it returned.</summary>
    public static void Configure(ISiloBuilder silo, ClusteringOptions options, ConfigurationOptions? redis)
    {
        if (redis is null)
        {
            silo.UseLocalhostClustering(options.SiloPort, options.GatewayPort);
            silo.AddMemoryPersistence();
        }
        else
        {
            ConfigureRedis(silo, options, redis);
        }

        KubernetesHosting.Configure(silo, options);
    }

    private static void ConfigureRedis(ISiloBuilder silo, ClusteringOptions options, ConfigurationOptions redis)
    {
        silo.Configure<ClusterOptions>(c =>
        {
            c.ClusterId = options.ClusterId;
            c.ServiceId = options.ServiceId;
        });
        silo.ConfigureEndpoints(IPAddress.Parse(options.AdvertisedAddress), options.SiloPort, options.GatewayPort, listenOnAnyHostAddress: false);
        silo.UseRedisClustering(o => o.ConfigurationOptions = redis.Clone());

        // The strongly consistent grain directory. With the default one, losing a silo loses its share of the
        // directory: every activation registered there is deactivated on the silos that survive (worker links,
        // placements, job records — a third of the cluster on three silos), and while membership settles a grain
        // can briefly have two activations. Two placements admitting into the same replicas over-fill them; two job
        // records can disagree. This directory hands a dead silo's ranges over by asking the survivors what they
        // host, so only the dead silo's own grains move, and a lookup waits for the handover rather than activating
        // a second copy.
#pragma warning disable ORLEANSEXP003 // Marked experimental in Orleans 10; see docs/reliability.md.
        silo.AddDistributedGrainDirectory();
#pragma warning restore ORLEANSEXP003
        silo.Configure<GrainDirectoryOptions>(d => d.RangeLeaseDuration = options.DirectoryLease);
        silo.AddRedisPersistence(redis, options.ServiceId, options.StoreCheckInterval);

        // A grain whose storage failed throws Redis' own exception to its caller, often on another silo; Orleans only
        // serializes exceptions of the namespaces it lists, and the caller got a CodecNotFoundException instead —
        // INTERNAL for a submission during a Redis outage, where UNAVAILABLE (retry) is the truth (an SRE probe).
        silo.Services.Configure<ExceptionSerializationOptions>(o => o.SupportedNamespacePrefixes.Add("StackExchange.Redis"));

        // Failure detection: a silo that misses three 1 s probes is suspected; with three silos the two others' votes
        // declare it dead in ~3–4 s (Orleans' defaults: 5.5 s measured), and its grains reactivate elsewhere right after.
        silo.Configure<ClusterMembershipOptions>(m =>
        {
            m.ProbeTimeout = options.ProbeTimeout;
            m.NumMissedProbesLimit = options.MissedProbesLimit;
        });
    }
}
