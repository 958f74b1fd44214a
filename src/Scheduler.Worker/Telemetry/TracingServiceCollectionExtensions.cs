using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Scheduler.Worker.Telemetry;

internal static class TracingServiceCollectionExtensions
{
    /// <summary>The service name spans carry unless OTEL_SERVICE_NAME names another.</summary>
    public const string DefaultServiceName = "scheduler-worker";

    /// <summary>
    /// Exports the worker's spans over OTLP when the standard OTEL_EXPORTER_OTLP_ENDPOINT setting in
    /// <paramref name="settings"/> names a collector; otherwise registers nothing, so no span is even created. The
    /// OTEL_* settings are copied into <paramref name="host"/>'s configuration, where the exporter reads the others
    /// (OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_SERVICE_NAME, ...) itself; the node's other settings stay out of it.
    /// </summary>
    public static void AddWorkerTracing(this IServiceCollection services, ConfigurationManager host, IConfiguration settings)
    {
        if (string.IsNullOrEmpty(settings["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            return;
        }

        host.AddInMemoryCollection(settings.AsEnumerable().Where(s => s.Key.StartsWith("OTEL_", StringComparison.OrdinalIgnoreCase)));
        services.AddOpenTelemetry()
            .ConfigureResource(resource =>
            {
                if (string.IsNullOrEmpty(settings["OTEL_SERVICE_NAME"]))
                {
                    resource.AddService(DefaultServiceName);
                }
            })
            .WithTracing(tracing => tracing.AddSource(WorkerTelemetry.Name).AddOtlpExporter());
    }
}
