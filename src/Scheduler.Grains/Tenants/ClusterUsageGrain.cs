using Microsoft.Extensions.Logging;
using Scheduler.Abstractions.Catalog;
using Scheduler.Abstractions.Tenants;

namespace Scheduler.Grains.Tenants;

/// <summary>The cluster's usage (<see cref="IClusterUsageGrain"/>), in memory. Kept active: an activation starts from
/// nothing and reads every tenant's usage once — one grain call per tenant, which the summary cost on every call before
/// — so it must not be collected between summaries. Not persisted: its state is one entry per tenant, and in Redis mode
/// a blob of every tenant's usage rewritten per report (a hundred thousand tenants: about 10 MB each time) would cost
/// far more than reading the tenants once when its silo dies.</summary>
[CollectionAgeLimit(AlwaysActive = true)]
internal sealed partial class ClusterUsageGrain(ILogger<ClusterUsageGrain> logger) : Grain, IClusterUsageGrain
{
    // Tenants read at a time: enough to hide a call's latency, few enough not to flood the silos (as the admin listings).
    private const int ReadsAtOnce = 32;

    // Tenant ids asked of the catalog at a time.
    private const int PageSize = 256;

    // How long a read of the sum waits for the activation's read of every tenant (then it answers what is summed so
    // far, and the read goes on): a small cluster's sum is whole from the first read, a large one's is not held up past
    // the 30 s a call waits for its answer.
    private static readonly TimeSpan ReadBound = TimeSpan.FromSeconds(5);

    // How soon reading the tenants is tried again after it stopped (a silo failing under it).
    private static readonly TimeSpan ReadRetry = TimeSpan.FromSeconds(1);

    private readonly UsageLedger _ledger = new();

    private readonly TaskCompletionSource _everyTenantRead = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // The last tenant id read from the catalog; null once every tenant was read.
    private string? _readAfter = "";

    // In the background, not before the activation answers: a tenant deactivating reports its usage here first, and a
    // read of it waits for its deactivation to end; reports interleave with the read.
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        IGrainTimer? reading = null;
        reading = this.RegisterGrainTimer(
            async cancellationToken =>
            {
                await ReadTenants(cancellationToken);
                if (_readAfter is null)
                {
                    _everyTenantRead.TrySetResult();
                    reading?.Dispose();
                }
            },
            new GrainTimerCreationOptions(TimeSpan.Zero, ReadRetry) { Interleave = true });
        return Task.CompletedTask;
    }

    /// <summary>Reads every tenant's usage, from the catalog page after the last read on, until the catalog is read to
    /// the end or a failure stops it (tried again by the next tick). A tenant that reported meanwhile keeps its report
    /// (<see cref="UsageLedger.Read"/>): its usage read may be older.</summary>
    private async Task ReadTenants(CancellationToken cancellationToken)
    {
        var catalog = GrainFactory.GetGrain<ICatalogGrain>(ICatalogGrain.Key);
        try
        {
            while (_readAfter is { } after)
            {
                var page = await catalog.ListTenants(after, PageSize).WaitAsync(cancellationToken);
                foreach (var ids in page.Chunk(ReadsAtOnce))
                {
                    var tenants = await Task.WhenAll(ids.Select(id => GrainFactory.GetGrain<ITenantGrain>(id).Get())).WaitAsync(cancellationToken);
                    foreach (var tenant in tenants.OfType<TenantInfo>())
                    {
                        _ledger.Read(tenant.TenantId, tenant.Usage);
                    }
                }

                _readAfter = page.Length < PageSize ? null : page[^1];
            }

            LogTenantsRead(logger, _ledger.Tenants);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Read again from the last whole page: a tenant read twice is taken once.
            LogReadStopped(logger, ex.GetType().Name);
        }
    }

    public Task Report(string tenantId, TenantUsage usage, long version)
    {
        _ledger.Report(tenantId, usage, version);
        return Task.CompletedTask;
    }

    public async Task<TenantUsage> Get()
    {
        try
        {
            await _everyTenantRead.Task.WaitAsync(ReadBound);
        }
        catch (TimeoutException)
        {
            // Answered with the tenants read so far and every report; the next read has more.
        }

        return _ledger.Total;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Cluster usage: every tenant's usage read ({Tenants} with any)")]
    private static partial void LogTenantsRead(ILogger logger, int tenants);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cluster usage: reading the tenants' usage stopped ({Error}); the sum lacks the tenants not read yet until it is tried again")]
    private static partial void LogReadStopped(ILogger logger, string error);
}
