namespace Scheduler.Simulator.Fleet;

/// <summary>How the simulator's autoscaled pools behave. Every hourly group of the fleet is a pool of up to its
/// count (groups alike in product, price and limits share one: <see cref="Engine.HourlyPool"/>); metered endpoints
/// are always there.</summary>
/// <param name="ColdStart">From asking for a GPU replica to its first admission: node start, model load, warm-up.</param>
/// <param name="ScaleDownAfter">How long a pool must have wanted fewer replicas before one is drained and released.</param>
/// <param name="ControlInterval">How often the capacity policy is asked.</param>
/// <param name="Window">The window over which arrival rates and attainment are measured.</param>
/// <param name="PeakLookback">How far back a burst's peak rate still sizes the pools.</param>
internal sealed record AutoscaleSettings(TimeSpan ColdStart, TimeSpan ScaleDownAfter, TimeSpan ControlInterval, TimeSpan Window, TimeSpan PeakLookback)
{
    /// <summary>The documented defaults: 120 s cold start (a GPU node joining and loading an 8B model's 16 GB of
    /// weights, then a warm-up; an estimate, not a measurement), release after 120 s of surplus (the policy itself
    /// holds what a burst needed for the 300 s lookback), a decision every 10 s over the last 60 s, prefill sized for
    /// the bursts of the last 300 s.</summary>
    public static AutoscaleSettings Default { get; } = new(TimeSpan.FromSeconds(120), TimeSpan.FromSeconds(120), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(300));
}
