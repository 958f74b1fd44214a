using OpenTelemetry.Metrics;

namespace Scheduler.Worker.Telemetry;

internal static class MetricsServiceCollectionExtensions
{
    /// <summary>
    /// Exports this node's <see cref="WorkerTelemetry"/> meter in Prometheus format (map the endpoint with
    /// <c>MapPrometheusScrapingEndpoint</c>). Only this node's: a listener hears every meter of the name in the process,
    /// and nodes hosted in one process (the embedded scheduler's fleet, tests) each have their own, with their own
    /// replicas and certificate.
    /// </summary>
    public static void AddWorkerMetrics(this IServiceCollection services)
    {
        services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddMeter(WorkerTelemetry.Name).AddPrometheusExporter());
        services.ConfigureOpenTelemetryMeterProvider((sp, metrics) =>
        {
            var ours = sp.GetRequiredService<WorkerTelemetry>().Meter;
            metrics.AddView(instrument => ReferenceEquals(instrument.Meter, ours) ? null : MetricStreamConfiguration.Drop);
        });
    }
}
