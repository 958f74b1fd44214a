using Microsoft.Extensions.Options;
using Scheduler.Abstractions.Catalog;
using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Placement;
using Scheduler.Silo.Models;

namespace Scheduler.Silo.Telemetry;

/// <summary>
/// Reads the fleet's state for the gauges every <see cref="TelemetryOptions.GaugeRefresh"/>. The state lives in grains
/// (each model's placement, each accelerator), so a scrape must not ask them: a Prometheus per silo scraping every
/// few seconds would then cost a grain call per model and accelerator per scrape and silo. Instead one silo — the
/// active member with the lowest address, so the choice moves by itself when that silo leaves — reads them on a timer and its gauges
/// report the cluster; the other silos report none. Each series thus exists once in the cluster, and sums over silos
/// (what dashboards and autoscalers do) are right.
/// </summary>
internal sealed partial class FleetGaugeRefresher(
    IGrainFactory grains,
    ModelCatalog models,
    IClusterMembershipService membership,
    ILocalSiloDetails localSilo,
    FleetGauges gauges,
    IOptions<TelemetryOptions> options,
    TimeProvider time,
    ILogger<FleetGaugeRefresher> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.GaugeRefresh, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await Refresh(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    private async Task Refresh(CancellationToken stoppingToken)
    {
        if (!ReportsForCluster())
        {
            gauges.Publish(FleetReading.Empty);
            return;
        }

        try
        {
            var placements = Task.WhenAll(models.All.Select(m => grains.GetGrain<IPlacementGrain>(m.Name).GetSnapshot()));
            var fleet = await grains.GetGrain<ICatalogGrain>(ICatalogGrain.Key).GetFleet();
            var accelerators = await Task.WhenAll(fleet.Accelerators.Select(id => grains.GetGrain<IAcceleratorGrain>(id).Get()));
            gauges.Publish(FleetReading.From(await placements, accelerators.OfType<AcceleratorInfo>(), options.Value.TenantLabel));
        }
        catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
        {
            // The last reading stays: a gauge a little stale beats one that vanishes while a grain moves. (A call Orleans
            // cannot address while the cluster changes ends with OperationCanceledException: that too, or the refresher
            // would stop for good.)
            LogRefreshFailed(logger, ex);
        }
    }

    private bool ReportsForCluster()
    {
        var first = membership.CurrentSnapshot.Members.Values
            .Where(m => m.Status == SiloStatus.Active)
            .Select(m => m.SiloAddress)
            .Min();
        return localSilo.SiloAddress.Equals(first);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reading the fleet for the gauges failed; they keep their last reading")]
    private static partial void LogRefreshFailed(ILogger logger, Exception ex);
}
