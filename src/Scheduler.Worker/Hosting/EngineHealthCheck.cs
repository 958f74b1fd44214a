using Microsoft.Extensions.Diagnostics.HealthChecks;
using Scheduler.Worker.Engines;

namespace Scheduler.Worker.Hosting;

/// <summary>Feeds the standard gRPC health service: the node serves while all its engine loops run. Alone, it is the
/// node's liveness (the gRPC health service <see cref="LivenessService"/>, /livez): a draining node is not ready but
/// alive.</summary>
internal sealed class EngineHealthCheck(ReplicaEngines engines) : IHealthCheck
{
    /// <summary>The tag of the checks a liveness probe asks for.</summary>
    public const string LivenessTag = "liveness";

    /// <summary>The gRPC health service name whose status is the liveness checks' alone (the empty name is all checks).</summary>
    public const string LivenessService = "liveness";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(engines.Healthy ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy("An engine loop stopped."));
}
