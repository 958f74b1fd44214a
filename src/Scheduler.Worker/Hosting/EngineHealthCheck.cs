using Microsoft.Extensions.Diagnostics.HealthChecks;
using Scheduler.Worker.Engines;

namespace Scheduler.Worker.Hosting;

/// <summary>Feeds the standard gRPC health service: the node serves while all its engine loops run.</summary>
internal sealed class EngineHealthCheck(ReplicaEngines engines) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(engines.Healthy ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy("An engine loop stopped."));
}
