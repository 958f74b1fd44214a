using Microsoft.Extensions.Options;
using Orleans.Runtime.Hosting;
using Orleans.Serialization;
using Orleans.Storage;
using Scheduler.Abstractions.Jobs;
using Scheduler.Grains;
using Scheduler.Grains.Jobs;
using Scheduler.Grains.Tenants;
using StackExchange.Redis;

namespace Scheduler.Silo.Persistence;

/// <summary>Where grain state, the job journal, the job index and tenants' idempotency keys live. Both stores write grain state with Orleans' own binary
/// serializer: the default JSON one costs more than the rest of a submit.</summary>
internal static class PersistenceSiloBuilderExtensions
{
    /// <summary>Grain state and the job journal in this silo's memory (a single-silo cluster).</summary>
    public static ISiloBuilder AddMemoryPersistence(this ISiloBuilder silo)
    {
        silo.AddMemoryStateStorage();
        silo.Services.AddSingleton<MemoryJobIndex>();
        silo.Services.AddSingleton<IJobIndex>(sp => sp.GetRequiredService<MemoryJobIndex>());
        silo.Services.AddSingleton<IJobJournal, MemoryJobJournal>();
        silo.Services.AddSingleton<IIdempotencyKeys, MemoryIdempotencyKeys>();
        return silo;
    }

    /// <summary>
    /// Grain state in this silo's memory (<see cref="SiloMemoryGrainStorage"/>), in Orleans' binary format. Also how the
    /// grain tests' silo stores it: Orleans' default storage format (Newtonsoft JSON) fills a property's existing object
    /// when it reads state, and so wrote a reactivated tenant's usage into the shared <c>TenantUsage.Empty</c> that every
    /// new tenant then started from.
    /// </summary>
    internal static ISiloBuilder AddMemoryStateStorage(this ISiloBuilder silo)
    {
        silo.Services.AddGrainStorage(StorageNames.Default, (services, _) =>
            new SiloMemoryGrainStorage(new OrleansGrainStorageSerializer(services.GetRequiredService<Serializer>())));
        return silo;
    }

    /// <summary>Grain state and the job journal in Redis, shared by every silo of the cluster; <paramref name="serviceId"/>
    /// names the journal's keys. The silo reads the store's marker every <paramref name="storeCheckInterval"/> and exits
    /// if Redis lost its data (<see cref="StoreLossWatch"/>).</summary>
    public static ISiloBuilder AddRedisPersistence(this ISiloBuilder silo, ConfigurationOptions redis, string serviceId, TimeSpan storeCheckInterval)
    {
        silo.AddRedisGrainStorage(StorageNames.Default, o =>
        {
            o.ConfigurationOptions = redis.Clone();
        });
        silo.Services.AddOptions<Orleans.Persistence.RedisStorageOptions>(StorageNames.Default)
            .Configure<Serializer>((storage, serializer) => storage.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer));
        silo.Services.AddSingleton(new RedisConnection(redis));
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<RedisConnection>());
        silo.Services.AddSingleton(sp => sp.GetRequiredService<RedisConnection>().Multiplexer);
        silo.Services.AddSingleton(new RedisJobKeys(serviceId));
        silo.Services.AddSingleton<IJobJournal, RedisJobJournal>();
        silo.Services.AddSingleton<IJobIndex, RedisJobIndex>();
        silo.Services.AddSingleton<IIdempotencyKeys>(sp => new RedisIdempotencyKeys(
            sp.GetRequiredService<IConnectionMultiplexer>(), sp.GetRequiredService<IOptions<PlacementOptions>>(), serviceId));
        silo.Services.AddSingleton(sp => new StoreMarker(() => sp.GetRequiredService<IConnectionMultiplexer>(), serviceId));
        silo.Services.AddSingleton<IProcessHalt, ProcessHalt>();
        silo.Services.AddSingleton(sp => new StoreLossWatch(
            sp.GetRequiredService<StoreMarker>(), storeCheckInterval, sp.GetRequiredService<IProcessHalt>(),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<StoreLossWatch>>()));
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<StoreLossWatch>());
        return silo;
    }
}
