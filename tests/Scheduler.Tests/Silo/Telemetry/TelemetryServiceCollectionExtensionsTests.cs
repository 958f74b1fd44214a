using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;
using Scheduler.Silo.Telemetry;

namespace Scheduler.Tests.Silo.Telemetry;

public sealed class TelemetryServiceCollectionExtensionsTests
{
    [Fact]
    public void AddSchedulerTelemetry_WithoutACollector_RegistersNoTracerProvider()
    {
        using var services = Build(new Dictionary<string, string?>());

        // Nothing listens to the scheduler's or Orleans' spans, so none is built per job or grain call.
        Assert.Null(services.GetService<TracerProvider>());
    }

    [Fact]
    public void AddSchedulerTelemetry_WithACollector_ExportsSpans()
    {
        using var services = Build(new Dictionary<string, string?> { ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:4317" });

        Assert.NotNull(services.GetService<TracerProvider>());
    }

    private static ServiceProvider Build(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection().AddLogging().AddMetrics();
        services.AddSchedulerTelemetry(configuration, configuration.GetSection("Scheduler"));
        return services.BuildServiceProvider();
    }
}
