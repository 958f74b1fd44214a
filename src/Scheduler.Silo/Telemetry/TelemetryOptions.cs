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

    /// <summary>Most series each of the scheduler's metrics keeps (OpenTelemetry's cardinality limit). A metric labelled
    /// by tenant keeps one series per tenant and combination of its other labels (outcome, product, token type,
    /// priority) for the silo's life; past the limit, a new combination is counted in one series labelled
    /// <c>otel_metric_overflow="true"</c>, without its labels. OpenTelemetry's default of 2,000 left every tenant after
    /// the first 500 to 1,000 without series of its own.</summary>
    public int MaxSeriesPerMetric { get; set; } = DefaultMaxSeriesPerMetric;

    /// <summary>Whether the metrics carry the tenant's id as a label (<c>scheduler_tenant</c>). On by default: a
    /// dashboard then shows each tenant's queue, tokens and cost. With tens of thousands of tenants that is more series
    /// than a Prometheus should hold (about 14 KB of scrape per tenant with traffic): turn it off, and every metric is
    /// counted per model, outcome, product and so on only, its totals unchanged. Per-tenant figures stay in the admin
    /// API (<c>GetTenant</c>, <c>schedctl tenants</c>) either way.</summary>
    public bool TenantLabel { get; set; } = true;

    /// <summary>Enough for 5,000 tenants on a metric with four label combinations per tenant (jobs finished, by
    /// outcome).</summary>
    public const int DefaultMaxSeriesPerMetric = 20_000;
}
