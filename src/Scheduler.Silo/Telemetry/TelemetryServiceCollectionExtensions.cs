using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Scheduler.Silo.Telemetry;

internal static class TelemetryServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="SchedulerTelemetry"/> and exports its meter and activities with Orleans' own: metrics in
    /// Prometheus format (map the endpoint with <c>MapPrometheusScrapingEndpoint</c>), and both over OTLP when the
    /// standard OTEL_EXPORTER_OTLP_ENDPOINT variable in <paramref name="configuration"/> names a collector.
    /// </summary>
    public static IServiceCollection AddSchedulerTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<SchedulerTelemetry>();
        var otlp = !string.IsNullOrEmpty(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        services.AddOpenTelemetry()
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(SchedulerTelemetry.Name, "Microsoft.Orleans").AddPrometheusExporter();
                if (otlp)
                {
                    metrics.AddOtlpExporter();
                }
            })
            .WithTracing(tracing =>
            {
                tracing.AddSource(SchedulerTelemetry.Name, "Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application");
                if (otlp)
                {
                    tracing.AddOtlpExporter();
                }
            });
        return services;
    }
}
