using OpenTelemetry.Metrics;
using Scheduler.Telemetry;

namespace Scheduler.Worker.Telemetry;

internal static class TelemetryServiceCollectionExtensions
{
    /// <summary>The service name the node's metrics and spans carry unless OTEL_SERVICE_NAME names another.</summary>
    public const string DefaultServiceName = "scheduler-worker";

    /// <summary>
    /// Exports this node's <see cref="WorkerTelemetry"/> meter in Prometheus format when <paramref name="prometheus"/>
    /// (map the endpoint with <c>MapPrometheusScrapingEndpoint</c>), and it and the node's spans over OTLP when the
    /// standard OTEL_EXPORTER_OTLP_ENDPOINT setting in <paramref name="settings"/> names a collector, as the silo does.
    /// The OTEL_* settings are copied into <paramref name="host"/>'s configuration, where the SDK reads the others
    /// (OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_SERVICE_NAME, ...) itself; the node's other settings stay out of it. Only
    /// this node's meter: a listener hears every meter of the name in the process, and nodes hosted in one process (the
    /// embedded scheduler's fleet, tests) each have their own, with their own replicas and certificate.
    /// </summary>
    public static void AddWorkerTelemetry(this IServiceCollection services, ConfigurationManager host, IConfiguration? settings, bool prometheus)
    {
        var otel = settings ?? new ConfigurationBuilder().Build();
        if (!prometheus && !OpenTelemetryServiceCollectionExtensions.ExportsOtlp(otel))
        {
            return;
        }

        host.AddInMemoryCollection(otel.AsEnumerable().Where(s => s.Key.StartsWith("OTEL_", StringComparison.OrdinalIgnoreCase)));
        services.AddSchedulerOpenTelemetry(otel, DefaultServiceName, metrics =>
        {
            metrics.AddMeter(WorkerTelemetry.Name);
            if (prometheus)
            {
                metrics.AddPrometheusExporter();
            }
        }, WorkerTelemetry.Name);
        services.ConfigureOpenTelemetryMeterProvider((sp, metrics) =>
        {
            var ours = sp.GetRequiredService<WorkerTelemetry>().Meter;
            metrics.AddView(instrument => ReferenceEquals(instrument.Meter, ours) ? null : MetricStreamConfiguration.Drop);
        });
    }
}
