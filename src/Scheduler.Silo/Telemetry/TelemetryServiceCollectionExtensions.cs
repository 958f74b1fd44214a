using System.Diagnostics.Metrics;
using OpenTelemetry.Metrics;
using Scheduler.Grains.Jobs;
using Scheduler.Silo.Hosting;
using Scheduler.Telemetry;

namespace Scheduler.Silo.Telemetry;

internal static class TelemetryServiceCollectionExtensions
{
    /// <summary>The service name spans and metrics carry unless OTEL_SERVICE_NAME names another.</summary>
    public const string DefaultServiceName = "scheduler-silo";

    /// <summary>Every label a scheduler metric carries but the tenant: what the metrics keep when
    /// <see cref="TelemetryOptions.TenantLabel"/> is off. A label a metric gains must be listed here too, or it is
    /// dropped there.</summary>
    internal static readonly string[] MetricLabelsButTenant =
    [
        SemanticConventions.RequestModel, SemanticConventions.TokenType, SemanticConventions.Outcome, SemanticConventions.Priority,
        SemanticConventions.AcceleratorProduct, SemanticConventions.AcceleratorState, SemanticConventions.WorkerPool,
        SemanticConventions.ReplicaId, SemanticConventions.NodeId, SemanticConventions.Door, SemanticConventions.RpcStatusCode,
    ];

    // The worker's spans, for the standalone scheduler whose fleet runs in the silo's process.
    private const string WorkerSource = "Scheduler.Worker";

    /// <summary>
    /// Registers <see cref="SchedulerTelemetry"/>, the fleet gauges' refresher (settings from <paramref name="scheduler"/>'s
    /// "Telemetry" section) and exports the scheduler's meter and activities with Orleans' own: metrics in Prometheus
    /// format (map the endpoint with <c>MapPrometheusScrapingEndpoint</c>), and both over OTLP when the standard
    /// OTEL_EXPORTER_OTLP_ENDPOINT variable in <paramref name="configuration"/> names a collector (the exporter reads
    /// the other OTEL_* variables, such as OTEL_EXPORTER_OTLP_PROTOCOL, itself). Without a collector no span is made.
    /// </summary>
    public static IServiceCollection AddSchedulerTelemetry(this IServiceCollection services, IConfiguration configuration, IConfigurationSection scheduler)
    {
        services.AddSettings<TelemetryOptions>(scheduler.GetSection(TelemetryOptions.Section))
            .Validate(o => o.GaugeRefresh > TimeSpan.Zero, $"Scheduler:{TelemetryOptions.Section}:GaugeRefresh must be positive.")
            .Validate(o => o.MaxSeriesPerMetric > 0, $"Scheduler:{TelemetryOptions.Section}:MaxSeriesPerMetric must be positive.");

        // Read while the meter provider is built; the options' validation refuses a value that is not positive at start-up.
        var settings = Settings.Read<TelemetryOptions>(scheduler.GetSection(TelemetryOptions.Section));
        var stream = new MetricStreamConfiguration
        {
            CardinalityLimit = Math.Max(1, settings.MaxSeriesPerMetric),

            // Without the tenant label a counter's or histogram's series of all tenants add up into one; the one gauge
            // labelled by tenant is summed before it is measured (FleetReading), since a view keeps a gauge's last value.
            TagKeys = settings.TenantLabel ? null : MetricLabelsButTenant,
        };
        services.AddSingleton<FleetGauges>();
        services.AddHostedService<FleetGaugeRefresher>();
        services.AddSingleton<SchedulerTelemetry>();
        services.AddHostedService(sp => sp.GetRequiredService<SchedulerTelemetry>());
        services.AddSingleton<IJobOutcomeObserver>(sp => sp.GetRequiredService<SchedulerTelemetry>());
        services.AddSingleton<IJobOutcomeObserver, TtftAttainmentRecorder>();

        // Spans only for a collector: else every job's spans and every grain call's would be built, tagged and dropped
        // (about 4 KB and a share of the CPU per job, docs/benchmarks.md).
        services.AddSchedulerOpenTelemetry(
            configuration,
            DefaultServiceName,
            metrics => metrics.AddMeter(SchedulerTelemetry.Name, "Microsoft.Orleans", SemanticConventions.KestrelMeter).AddPrometheusExporter(),
            SchedulerTelemetry.Name, WorkerSource, "Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application");
        return services.ConfigureOpenTelemetryMeterProvider((sp, metrics) =>
        {
            // A meter provider listens by meter name, process-wide: in a process holding several hosts (tests, a silo
            // beside in-process workers) it would also take another host's scheduler and Kestrel meters, add their
            // series to this silo's, and lose its own Kestrel series when that host stops and disposes its meter (a
            // stream shared by meters of one name ends with either). This host's meters are the ones its factory made.
            var ours = sp.GetRequiredService<IMeterFactory>();
            metrics.AddView(instrument => instrument.Meter.Name switch
            {
                SchedulerTelemetry.Name or SemanticConventions.KestrelMeter when !ReferenceEquals(instrument.Meter.Scope, ours) => MetricStreamConfiguration.Drop,
                SchedulerTelemetry.Name => stream,

                // Of Kestrel's, the connections only: its duration histograms' series by protocol, TLS version and
                // error type cost more than they tell here.
                SemanticConventions.KestrelMeter => instrument.Name is SemanticConventions.KestrelActiveConnections or SemanticConventions.KestrelRejectedConnections
                    ? null
                    : MetricStreamConfiguration.Drop,
                _ => null,
            });
        });
    }
}
