using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
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

    [Theory]
    [InlineData(null, true)]
    [InlineData("false", false)]
    public void SchedulerTelemetry_DeprecatedMetricNames_AreExportedUntilTurnedOff(string? setting, bool exported)
    {
        using var services = Build(setting is null ? [] : new Dictionary<string, string?> { ["Scheduler:Telemetry:DeprecatedMetricNames"] = setting });
        // Only this provider's meter: silos of other tests in the same process publish theirs meanwhile.
        var meters = services.GetRequiredService<IMeterFactory>();
        var published = new System.Collections.Concurrent.ConcurrentBag<string>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, _) =>
            {
                if (instrument.Meter.Name == SchedulerTelemetry.Name && ReferenceEquals(instrument.Meter.Scope, meters))
                {
                    published.Add(instrument.Name);
                }
            },
        };
        listener.Start();

        services.GetRequiredService<SchedulerTelemetry>();

        Assert.Contains("scheduler.job.token.usage", published);
        Assert.Contains("scheduler.job.cost.usd", published);
        Assert.Equal(exported, published.Contains("gen_ai.client.token.usage"));
        Assert.Equal(exported, published.Contains("scheduler.job.cost"));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-5")]
    public void MaxSeriesPerMetric_NotPositive_IsRefusedNamingTheSetting(string setting)
    {
        using var services = Build(new Dictionary<string, string?> { ["Scheduler:Telemetry:MaxSeriesPerMetric"] = setting });

        var refused = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<TelemetryOptions>>().Value);
        Assert.Contains("Scheduler:Telemetry:MaxSeriesPerMetric must be positive", refused.Message);
    }

    private static ServiceProvider Build(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection().AddLogging().AddMetrics();
        services.AddSchedulerTelemetry(configuration, configuration.GetSection("Scheduler"));
        return services.BuildServiceProvider();
    }
}
