using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Storage;
using Orleans.TestingHost;
using Scheduler.Grains;
using Scheduler.Grains.Jobs;
using Scheduler.Grains.Nodes;
using Scheduler.Grains.Tenants;
using Scheduler.Silo.Persistence;
using Scheduler.Silo.Telemetry;

namespace Scheduler.Tests.Grains;

/// <summary>One in-process silo with memory storage and fake node links, shared by the grain tests. Tests
/// isolate themselves by using fresh model, node and tenant names. Not sealed: a fixture for tests that need other
/// scheduling options (a short node lease) derives from it.</summary>
public class GrainClusterFixture : IAsyncLifetime
{
    public const int OverloadQueueLength = 4;

    private InProcessTestCluster? _cluster;

    internal FakeNodeLinkFactory Links { get; } = new();

    /// <summary>The silo's idempotency keys, with the default lifetime and bound: tests may bind keys as a failed
    /// earlier attempt would have.</summary>
    internal IIdempotencyKeys IdempotencyKeys { get; } = new MemoryIdempotencyKeys(Options.Create(new PlacementOptions()), TimeProvider.System);

    /// <summary>The silo's job index, which its journal writes.</summary>
    private MemoryJobIndex Index { get; } = new(Options.Create(new PlacementOptions()), TimeProvider.System);

    /// <summary>The silo's job journal: tests read what a placement journaled, and may hold its settling.</summary>
    internal GatedJobJournal Journal { get; }

    public GrainClusterFixture() => Journal = new(new MemoryJobJournal(Index, Options.Create(new PlacementOptions()), TimeProvider.System));

    /// <summary>The models the silo serves (its <c>Scheduler:Models</c>): a test whose tenant's weight must reach its
    /// model's placement adds the model it made.</summary>
    internal TestServedModels Models { get; } = new();

    /// <summary>The silo's clock: the system's, which a test may stop at a time of its choosing.</summary>
    internal HoldableClock Clock { get; } = new();

    public IClusterClient Client => _cluster?.Client ?? throw new InvalidOperationException("The cluster is not deployed.");

    /// <summary>The silo's grain storage, for a test that stores state as an earlier version wrote it.</summary>
    internal IGrainStorage Storage =>
        (_cluster ?? throw new InvalidOperationException("The cluster is not deployed.")).Silos[0].ServiceProvider.GetRequiredKeyedService<IGrainStorage>(StorageNames.Default);

    /// <summary>The silo's settlement: a test ends jobs as their node link or placement would.</summary>
    internal JobSettlement Settlement =>
        (_cluster ?? throw new InvalidOperationException("The cluster is not deployed.")).Silos[0].ServiceProvider.GetRequiredService<JobSettlement>();

    public virtual async Task InitializeAsync()
    {
        var links = Links;
        var keys = IdempotencyKeys;
        var journal = Journal;
        var index = Index;
        var clock = Clock;
        var models = Models;
        var builder = new InProcessTestClusterBuilder(1);
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddMemoryStateStorage();
            silo.Services.AddSingleton<INodeLinkFactory>(links);
            silo.Services.AddSingleton<IJobJournal>(journal);
            silo.Services.AddSingleton<GrainReferences>();
            silo.Services.AddSingleton<JobSettlement>();
            silo.Services.AddSingleton<OwnedStateWrites>();
            silo.Services.AddSingleton<LocalNodeLinks>();
            silo.Services.AddSingleton(keys);
            silo.Services.AddSingleton<IServedModels>(models);
            silo.Services.AddSingleton<IJobIndex>(index);
            silo.Services.AddMetrics().AddSingleton<FleetGauges>().AddSingleton<IJobOutcomeObserver, SchedulerTelemetry>();
            silo.Services.AddSingleton<TimeProvider>(clock);
            silo.Services.Configure<PlacementOptions>(Configure);
            AddStores(silo.Services);
        });
        _cluster = builder.Build();
        await _cluster.DeployAsync();
        links.Contexts = _cluster.Silos[0].ServiceProvider.GetRequiredService<IGrainContextAccessor>();
    }

    /// <summary>Stores and a clock that replace the silo's (in memory, by the system clock): registered last, they win.</summary>
    protected virtual void AddStores(IServiceCollection services)
    {
    }

    /// <summary>The silo's scheduling options.</summary>
    protected virtual void Configure(PlacementOptions options)
    {
        // No test heartbeats: keep nodes' leases from lapsing while a test runs.
        options.NodeLease = TimeSpan.FromHours(1);
        options.HeartbeatInterval = TimeSpan.FromMinutes(10);

        // Small, so shedding tests reach it with a handful of queued jobs (other tests queue no sheddable work).
        options.OverloadQueueLength = OverloadQueueLength;
    }

    public virtual async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class GrainClusterCollection : ICollectionFixture<GrainClusterFixture>
{
    public const string Name = "grain-cluster";
}
