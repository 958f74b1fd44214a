using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Scheduler.Telemetry;

/// <summary>The OpenTelemetry set-up of a scheduler process, silo or worker, driven by the standard OTEL_* variables.</summary>
public static class OpenTelemetryServiceCollectionExtensions
{
    /// <summary>The standard variable naming the collector; without it nothing goes over OTLP.</summary>
    public const string OtlpEndpoint = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>The standard variable naming the service, which replaces the process's default.</summary>
    public const string ServiceName = "OTEL_SERVICE_NAME";

    /// <summary>True when <paramref name="otel"/> names a collector to export to.</summary>
    public static bool ExportsOtlp(IConfiguration otel) => !string.IsNullOrEmpty(otel[OtlpEndpoint]);

    /// <summary>
    /// Registers the SDK with the process's resource (service <paramref name="defaultServiceName"/> unless
    /// OTEL_SERVICE_NAME names another: what Prometheus' <c>target_info</c> and a collector see), the meters
    /// <paramref name="metrics"/> adds (with the exporters it adds, such as Prometheus') and, when OTEL_EXPORTER_OTLP_ENDPOINT
    /// in <paramref name="otel"/> names a collector, both those metrics and the spans of <paramref name="activitySources"/>
    /// over OTLP. The exporter reads the other OTEL_* settings (OTEL_EXPORTER_OTLP_PROTOCOL, ...) from the host's
    /// configuration itself. Without a collector no span is made: a listener without an exporter would have each one
    /// built, tagged and dropped.
    /// </summary>
    public static IServiceCollection AddSchedulerOpenTelemetry(
        this IServiceCollection services, IConfiguration otel, string defaultServiceName, Action<MeterProviderBuilder> metrics, params string[] activitySources)
    {
        var otlp = ExportsOtlp(otel);
        var telemetry = services.AddOpenTelemetry()
            .ConfigureResource(resource =>
            {
                if (string.IsNullOrEmpty(otel[ServiceName]))
                {
                    resource.AddService(defaultServiceName);
                }
            })
            .WithMetrics(meters =>
            {
                metrics(meters);
                if (otlp)
                {
                    meters.AddOtlpExporter();
                }
            });
        if (otlp)
        {
            telemetry.WithTracing(tracing => tracing.AddSource(activitySources).AddOtlpExporter());
        }

        return services;
    }
}
