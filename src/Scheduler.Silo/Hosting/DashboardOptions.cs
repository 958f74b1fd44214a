namespace Scheduler.Silo.Hosting;

/// <summary>The Orleans dashboard at <c>/dashboard</c> (section "Scheduler:Dashboard").</summary>
public sealed class DashboardOptions
{
    /// <summary>The configuration section, under "Scheduler".</summary>
    public const string Section = "Dashboard";

    /// <summary>
    /// Whether the dashboard times every grain call (its "methods" views: calls, errors and latency per grain method).
    /// Off by default: Orleans runs a grain-call filter only when one is registered, and the dashboard's filter alone
    /// made every call of a job's path build a filter invoker — about a twentieth of a job's CPU in the hot-path profile
    /// (docs/benchmarks.md, issue 12). Silos, grain counts and activations are shown either way.
    /// </summary>
    public bool GrainMethodProfiling { get; set; }
}
