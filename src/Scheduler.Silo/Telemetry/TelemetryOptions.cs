namespace Scheduler.Silo.Telemetry;

/// <summary>Telemetry settings (section "Scheduler:Telemetry"). Export itself is set by the standard OTEL_* variables.</summary>
public sealed class TelemetryOptions
{
    public const string Section = "Telemetry";

    /// <summary>How often the fleet gauges (queued jobs, replica load, accelerators by state) are read from the
    /// grains. A scrape reads the last reading; this bounds how stale it may be.</summary>
    public TimeSpan GaugeRefresh { get; set; } = TimeSpan.FromSeconds(10);
}
