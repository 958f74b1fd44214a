using Microsoft.Extensions.Diagnostics.HealthChecks;
using Scheduler.Worker.Engines;
using Scheduler.Worker.Hosting;
using Scheduler.Worker.Services;

namespace Scheduler.Worker.Registration;

/// <summary>
/// A stopping node finishes what it runs instead of dropping it: on SIGTERM (Kubernetes removing the pod, an autoscaler
/// scaling the pool down) it tells the scheduler, which sends its replicas nothing new, keeps its engines and its
/// stream running until they run nothing or <see cref="WorkerNodeOptions.DrainTimeoutSeconds"/> passes, then ends the
/// stream — what is left is handed back and resumes elsewhere from its delivered tokens, as before. Without the drain
/// every sequence of a removed pod paid its prefill again on another replica. Last it deregisters, so the scheduler
/// forgets a node that left on purpose instead of showing it lost for the silos' lifetime.
/// </summary>
/// <remarks>It runs in <see cref="IHostedLifecycleService.StoppingAsync"/>, which the host calls before it stops any
/// service: the server still serves the scheduler's stream, and the engines still step. From then on the node is not
/// ready (its health check, in the gRPC health service's overall status and /readyz), so the pod leaves its Service's
/// endpoints; its liveness (<see cref="EngineHealthCheck.LivenessTag"/>) is the engines' alone, or the kubelet would
/// restart a node for finishing its work.</remarks>
internal sealed partial class NodeDrain(
    WorkerNode node,
    WorkerNodeOptions options,
    SchedulerRegistration registration,
    ReplicaEngines engines,
    ExecuteSessions sessions,
    TimeProvider time,
    ILogger<NodeDrain> logger) : IHostedLifecycleService, IHealthCheck
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(100);

    // How long the last reports (the finishes of the sequences the drain waited for) may take to reach the scheduler.
    private static readonly TimeSpan SendGrace = TimeSpan.FromSeconds(2);

    // How long the deregistration may take: within the 10 s the host's stop bound leaves past the drain.
    private static readonly TimeSpan DeregisterBound = TimeSpan.FromSeconds(5);

    private int _draining;

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(Volatile.Read(ref _draining) == 1
            ? HealthCheckResult.Unhealthy($"draining: {engines.RunningSequences} sequences still running")
            : HealthCheckResult.Healthy());

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        Volatile.Write(ref _draining, 1);
        try
        {
            // Told even when there is nothing to wait for, so the scheduler sends nothing in the moment before the stream
            // ends. A node that never registered was given nothing: its engines are settled.
            await registration.AnnounceDrainingAsync(cancellationToken);
            var timeout = TimeSpan.FromSeconds(options.DrainTimeoutSeconds);
            if (timeout <= TimeSpan.Zero || engines.Settled)
            {
                return;
            }

            var started = time.GetTimestamp();
            var running = engines.RunningSequences;
            var droppedBefore = sessions.Dropped;
            LogDraining(logger, node.NodeId, running, timeout.TotalSeconds);
            while (!engines.Settled && time.GetElapsedTime(started) < timeout && !cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(Poll, time, cancellationToken);
            }

            // A scheduler's stream that closes meanwhile (its silo died) drops what ran here, and the drain ends at once:
            // those sequences resume elsewhere, which the summary says rather than counting them finished.
            var seconds = time.GetElapsedTime(started).TotalSeconds;
            var left = engines.RunningSequences;
            var dropped = sessions.Dropped - droppedBefore;
            var finished = Math.Max(0, running - dropped - left);
            LogDrained(logger, node.NodeId, seconds, finished, running, dropped, left);
        }
        catch (OperationCanceledException)
        {
            // The host's own bound on stopping passed: what is left is handed back below.
        }
        finally
        {
            // The scheduler's stream never ends by itself: ended here, or the server's stop would wait its full timeout.
            // Settled, the last reports (the finishes the drain waited for) go out first; otherwise what still runs is
            // dropped, and the scheduler hands it back.
            if (engines.Settled)
            {
                await sessions.EndAfterSentAsync(SendGrace);
            }
            else
            {
                sessions.EndAll();
            }

            // Last, once nothing more runs here for the scheduler: a node that left on purpose is forgotten rather than
            // shown lost for the silos' lifetime. Its own bound, not the host's (which may have passed).
            using var deregistering = new CancellationTokenSource(DeregisterBound);
            await registration.DeregisterAsync(deregistering.Token);
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Node {NodeId} is stopping: the scheduler sends it nothing new; waiting up to {TimeoutSeconds} s for its {Running} running sequences")]
    private static partial void LogDraining(ILogger logger, string nodeId, int running, double timeoutSeconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Node {NodeId} drained in {Seconds:F1} s: {Finished} of its {Running} sequences finished here, {Dropped} were handed back when the scheduler's stream closed, {Left} still running are handed back now to resume elsewhere")]
    private static partial void LogDrained(ILogger logger, string nodeId, double seconds, int finished, int running, int dropped, int left);
}
