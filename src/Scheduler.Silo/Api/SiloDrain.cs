using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Scheduler.Silo.Api;

/// <summary>
/// A silo told to stop (SIGTERM, a rolling restart) drains before Orleans hands its grains over: from that moment
/// it takes no new job streams, ends the ones it serves with UNAVAILABLE so their clients resume on another silo
/// with WatchJob, and reports NOT_SERVING to health probes so load balancers stop sending it calls.
/// </summary>
internal sealed class SiloDrain(IHostApplicationLifetime lifetime) : IHealthCheck
{
    public bool IsDraining => lifetime.ApplicationStopping.IsCancellationRequested;

    /// <summary>Cancelled when the drain begins.</summary>
    public CancellationToken Draining => lifetime.ApplicationStopping;

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(IsDraining ? HealthCheckResult.Unhealthy("draining") : HealthCheckResult.Healthy());
}
