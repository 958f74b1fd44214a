namespace Scheduler.Silo.Telemetry;

/// <summary>Telemetry settings (section "Scheduler:Telemetry"). Export itself is set by the standard OTEL_* variables.</summary>
public sealed class TelemetryOptions
{
    public const string Section = "Telemetry";

    /// <summary>How often the fleet gauges (queued jobs, replica load, accelerators by state) are read from the
    /// grains. A scrape reads the last reading; this bounds how stale it may be.</summary>
    public TimeSpan GaugeRefresh { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Also exports the metrics renamed on 2026-12-06 under their old names (<c>gen_ai_client_token_usage</c>,
    /// <c>scheduler_job_cost_USD_total</c>), so dashboards and alerts built on them keep working while they move to the
    /// new ones. On by default for now; turn it off once nothing reads the old names. A later release removes them.</summary>
    public bool DeprecatedMetricNames { get; set; } = true;
}
