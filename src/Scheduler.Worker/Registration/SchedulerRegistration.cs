using Grpc.Core;
using Scheduler.Protos.V1;
using Scheduler.Worker.Hosting;

namespace Scheduler.Worker.Registration;

/// <summary>
/// Registers the node with the scheduler once it listens, then keeps its lease alive with heartbeats,
/// registering again whenever the scheduler no longer knows it. A silo that fails a call is left for the next
/// configured one; an unreachable scheduler is retried, never fatal.
/// </summary>
internal sealed partial class SchedulerRegistration(
    WorkerNode node,
    NodeInventory inventory,
    WorkerNodeOptions options,
    WorkerTls tls,
    IHostApplicationLifetime lifetime,
    TimeProvider time,
    Jitter jitter,
    ILogger<SchedulerRegistration> logger) : BackgroundService
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan DefaultHeartbeatInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MinHeartbeatTimeout = TimeSpan.FromSeconds(1);

    /// <summary>How often a node whose token or description the scheduler refuses tries again (with jitter): seldom
    /// enough to be no load and to keep the log readable, often enough to come up within a minute of a token rotation or
    /// of the scheduler's roll-out of a model the node serves. Set only by tests, before the host starts, which cannot
    /// wait minutes for a node to come back.</summary>
    internal TimeSpan ConfigurationRefusedRetry { get; set; } = TimeSpan.FromSeconds(60);

    // Within the host's own bound on stopping, which leaves 10 s past the drain.
    private static readonly TimeSpan DeregisterTimeout = TimeSpan.FromSeconds(3);

    private readonly CappedBackoff _backoff = new(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(10), jitter);
    private readonly Metadata _headers = new() { { "authorization", $"Bearer {options.NodeToken}" } };
    private readonly OutageLog _outage = new(node.NodeId, time, logger);
    private SchedulerEndpoints? _silos;
    private bool _draining;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            // The node announces its address, which exists only once the server is listening.
            await WhenStartedAsync(stoppingToken);
            LogServing(logger, node.NodeId, node.Address, inventory.Replicas.Count);
            if (!options.HasStableNodeId)
            {
                LogEphemeralNodeId(logger, node.NodeId);
            }

            // Worker:Tls:TrustedCaPath read again while the node runs: a CA added to it is trusted by the next
            // connection to a silo, so the scheduler's certificate can move to a new CA without rolling the nodes.
            using var caReload = tls.SchedulerCa?.ReloadEvery(options.Tls.ReloadInterval, time, logger);
            using var silos = new SchedulerEndpoints(options.SchedulerAddress ?? "", tls.SchedulerCa);
            if (silos.IsEmpty)
            {
                LogNoScheduler(logger, node.NodeId);
                return;
            }

            Volatile.Write(ref _silos, silos);

            // A stopping node that the scheduler no longer knows has nothing running for it: it does not register again.
            while (!Volatile.Read(ref _draining))
            {
                var (interval, lease) = await RegisterAsync(silos, stoppingToken);
                await HeartbeatWhileKnownAsync(silos, interval, lease, stoppingToken);
            }
        }
        catch (Exception ex) when (stoppingToken.IsCancellationRequested && ex is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled })
        {
            // The host is stopping: a call under way when it did ends cancelled, as an RpcException (the host logged
            // it as this service failing, at every stop that caught a heartbeat in flight).
        }
    }

    /// <summary>Registers, retrying with backoff until the scheduler accepts; returns the heartbeat interval it asks for
    /// and the lease it grants (zero when it names none).</summary>
    private async Task<(TimeSpan Interval, TimeSpan Lease)> RegisterAsync(SchedulerEndpoints silos, CancellationToken stoppingToken)
    {
        var request = new RegisterNodeRequest { Node = node.Describe() };
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var response = await silos.Client.RegisterNodeAsync(request, _headers, time.GetUtcNow().UtcDateTime + CallTimeout, stoppingToken);
                _backoff.Reset();
                _outage.Answered(silos.Address);
                node.MarkRegistered();
                LogRegistered(logger, node.NodeId, node.Address, silos.Address, response.LeaseMs, response.HeartbeatIntervalMs);
                var interval = response.HeartbeatIntervalMs > 0 ? TimeSpan.FromMilliseconds(response.HeartbeatIntervalMs) : DefaultHeartbeatInterval;
                return (interval, TimeSpan.FromMilliseconds(Math.Max(0, response.LeaseMs)));
            }
            catch (RpcException ex) when ((RefusesToken(ex) || ex.StatusCode == StatusCode.InvalidArgument) && !stoppingToken.IsCancellationRequested)
            {
                // A configuration error, not a silo that is down: a token that is nobody's (or a tenant's or admin key
                // given as the node token), or a description the scheduler refuses (a model it does not serve, a field
                // out of range). Retrying fast fixes nothing, and each refusal of an unknown token counts against this
                // host's address in the silo's auth-failure limiter. Still retried, seldom, through the next silo: a
                // silo's token may be rotated to this one, a silo rolled out with the model takes the node, and another
                // silo in the list may already do either. A refusal is an answer: an outage before it is over, and this
                // failure has its own line, never one folded into the outage's summary.
                _outage.Answered(silos.Address);
                var delay = jitter.Around(ConfigurationRefusedRetry);
                if (ex.StatusCode == StatusCode.InvalidArgument)
                {
                    LogDescriptionRefused(logger, node.NodeId, silos.Address, attempt, ex.Status.Detail, delay);
                }
                else
                {
                    LogNodeTokenRefused(logger, node.NodeId, silos.Address, attempt, ex.Status.Detail, delay);
                }

                silos.Next();
                await Task.Delay(delay, time, stoppingToken);
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.AlreadyExists && !stoppingToken.IsCancellationRequested)
            {
                // Another running worker holds this node id (a copied config). Retried, not fatal: the holder may be this
                // node's predecessor still within its lease, and a node that stands by takes over once the holder is gone.
                _outage.Answered(silos.Address);
                var delay = _backoff.Next();
                LogNodeIdTaken(logger, node.NodeId, silos.Address, attempt, ex.Status.Detail, delay);
                await Task.Delay(delay, time, stoppingToken);
            }
            catch (RpcException ex) when (!stoppingToken.IsCancellationRequested)
            {
                var delay = _backoff.Next();
                if (_outage.Failed(silos.Address, ex.StatusCode, ex.Status.Detail))
                {
                    LogRegisterFailed(logger, node.NodeId, silos.Address, attempt, ex.StatusCode, ex.Status.Detail, delay);
                }

                silos.Next();
                await Task.Delay(delay, time, stoppingToken);
            }
        }
    }

    /// <summary>Tells the scheduler the node is stopping: one heartbeat saying so now (so no new work comes while the
    /// next one is due), and every later one says it too. False when no scheduler heard it (none configured, or the call
    /// failed: the next heartbeat says it again).</summary>
    public async Task<bool> AnnounceDrainingAsync(CancellationToken cancellationToken)
    {
        Volatile.Write(ref _draining, true);
        if (Volatile.Read(ref _silos) is not { } silos || !node.IsRegistered)
        {
            return false;
        }

        try
        {
            var request = new HeartbeatRequest { NodeId = node.NodeId, InstanceId = node.InstanceId, Draining = true };
            var known = (await silos.Client.HeartbeatAsync(request, _headers, time.GetUtcNow().UtcDateTime + CallTimeout, cancellationToken)).Known;
            _outage.Answered(silos.Address);
            return known;
        }
        catch (RpcException ex)
        {
            HeartbeatFailed(silos, ex);
            return false;
        }
        catch (ObjectDisposedException)
        {
            // The heartbeat loop ended meanwhile (the scheduler no longer knew the node): nothing runs here for it.
            return false;
        }
    }

    /// <summary>Tells the scheduler the node has left on purpose — called last, once its drain ended its execution
    /// streams — so it forgets the node instead of showing it lost (the scheduler hands back whatever it still counted
    /// there first). Tried once through each silo; a scheduler that predates the call, or none reached, leaves the node
    /// shown lost as before.</summary>
    public async Task DeregisterAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _silos) is not { } silos || !node.IsRegistered)
        {
            return;
        }

        var request = new DeregisterNodeRequest { NodeId = node.NodeId, InstanceId = node.InstanceId };
        for (var tried = 0; tried < silos.Count; tried++)
        {
            try
            {
                await silos.Client.DeregisterNodeAsync(request, _headers, time.GetUtcNow().UtcDateTime + DeregisterTimeout, cancellationToken);
                LogDeregistered(logger, node.NodeId, silos.Address);
                return;
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Unimplemented)
            {
                LogDeregisterFailed(logger, node.NodeId, silos.Address, ex.StatusCode, ex.Status.Detail);
                return;
            }
            catch (RpcException ex)
            {
                LogDeregisterFailed(logger, node.NodeId, silos.Address, ex.StatusCode, ex.Status.Detail);
                silos.Next();
            }
            catch (ObjectDisposedException)
            {
                // The registration loop ended meanwhile (the host is past stopping): nothing to tell.
                return;
            }
        }
    }

    /// <summary>Heartbeats every <paramref name="interval"/>, counted from when the last one was sent, until the scheduler
    /// answers that it does not know the node.</summary>
    private async Task HeartbeatWhileKnownAsync(SchedulerEndpoints silos, TimeSpan interval, TimeSpan lease, CancellationToken stoppingToken)
    {
        var request = new HeartbeatRequest { NodeId = node.NodeId, InstanceId = node.InstanceId };
        var timeout = HeartbeatTimeout(interval, lease);
        var sent = time.GetUtcNow();
        while (true)
        {
            // A heartbeat that hung until its timeout (a silo frozen, not refusing) is followed at once through the next
            // silo: waiting a whole interval more after it took the lease with it (interval 2 s, timeout 4 s, lease 6 s:
            // the next heartbeat came 8 s after the last one answered, and the node was lost whenever a silo it listed
            // first froze).
            var due = sent + interval - time.GetUtcNow();
            if (due > TimeSpan.Zero)
            {
                await Task.Delay(due, time, stoppingToken);
            }

            request.Draining = Volatile.Read(ref _draining);
            sent = time.GetUtcNow();
            try
            {
                var response = await silos.Client.HeartbeatAsync(request, _headers, sent.UtcDateTime + timeout, stoppingToken);
                _outage.Answered(silos.Address);
                if (!response.Known)
                {
                    // A stopping node that deregistered is unknown on purpose: it does not register again.
                    if (!Volatile.Read(ref _draining))
                    {
                        LogUnknownToScheduler(logger, node.NodeId);
                    }

                    return;
                }
            }
            catch (RpcException ex) when (RefusesToken(ex) && !stoppingToken.IsCancellationRequested)
            {
                // The scheduler answers and refuses the token: its Scheduler:NodeToken was rotated and this node's was
                // not (or the other way round). Beating on would fail at every interval, each refusal counted against
                // this host's address by the silo's auth-failure limiter, while the lease runs out and the node reads
                // lost — and the log said "the scheduler is still unreachable", which it is not. A configuration
                // refusal, as registration reports it; registering again, through the next silo (one still or already
                // taking this token keeps the node), with registration's slow retry while the token is refused, brings
                // the node back by itself once the tokens agree again.
                _outage.Answered(silos.Address);
                LogHeartbeatTokenRefused(logger, node.NodeId, silos.Address, ex.StatusCode, ex.Status.Detail);
                silos.Next();
                return;
            }
            catch (RpcException ex) when (!stoppingToken.IsCancellationRequested)
            {
                // Keep beating at the same pace, through the next silo: the lease may still be alive (the node's
                // grain lives wherever the cluster put it), and a scheduler that lost it says so (known = false),
                // which registers the node again.
                HeartbeatFailed(silos, ex);
                silos.Next();
            }
        }
    }

    // The scheduler refuses the node token itself: UNAUTHENTICATED for a token that is nobody's, PERMISSION_DENIED for a
    // tenant's or admin key given as the node token (the silo's auth interceptor, before any handler runs).
    private static bool RefusesToken(RpcException ex) => ex.StatusCode is StatusCode.Unauthenticated or StatusCode.PermissionDenied;

    // Logged in full only when it starts an outage (or fails differently within one): a heartbeat failing at every
    // interval while the scheduler is down is counted into the outage's summary instead.
    private void HeartbeatFailed(SchedulerEndpoints silos, RpcException ex)
    {
        if (_outage.Failed(silos.Address, ex.StatusCode, ex.Status.Detail))
        {
            LogHeartbeatFailed(logger, node.NodeId, silos.Address, ex.StatusCode, ex.Status.Detail);
        }
    }

    // A heartbeat stuck on a dead silo must give up well within the lease, leaving time to try the next one: sent an
    // interval after the last one answered, it and the next one through another silo must both fit in the lease, so it
    // waits at most half of what the interval leaves of it. But never so soon that a busy, healthy silo counts as failed:
    // twice the interval where the lease allows (a scheduler that names no lease), and never under a second.
    internal static TimeSpan HeartbeatTimeout(TimeSpan interval, TimeSpan lease)
    {
        var timeout = interval * 2;
        if (lease > interval)
        {
            timeout = TimeSpan.FromTicks(Math.Min(timeout.Ticks, (lease - interval).Ticks / 2));
        }

        return TimeSpan.FromTicks(Math.Clamp(timeout.Ticks, MinHeartbeatTimeout.Ticks, CallTimeout.Ticks));
    }

    private async Task WhenStartedAsync(CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var onStarted = lifetime.ApplicationStarted.Register(() => started.TrySetResult());
        await started.Task.WaitAsync(stoppingToken);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Node {NodeId} serves {Replicas} replicas at {Address}")]
    private static partial void LogServing(ILogger logger, string nodeId, string address, int replicas);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Node id {NodeId} is random: Worker:Port is 0 (any free port), so each start of this worker is a new node to the scheduler and the last one's accelerators read lost. Set Worker:NodeId (or Worker:Port) to keep one id across restarts")]
    private static partial void LogEphemeralNodeId(ILogger logger, string nodeId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Node {NodeId} deregistered with {Scheduler}: it is forgotten, not shown lost")]
    private static partial void LogDeregistered(ILogger logger, string nodeId, string scheduler);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Node {NodeId} could not deregister with {Scheduler} ({Status} {Detail}): the scheduler shows it lost until an operator forgets it (schedctl forget-node)")]
    private static partial void LogDeregisterFailed(ILogger logger, string nodeId, string scheduler, StatusCode status, string detail);

    [LoggerMessage(Level = LogLevel.Information, Message = "Node {NodeId} has no scheduler address: serving without registering")]
    private static partial void LogNoScheduler(ILogger logger, string nodeId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Node {NodeId} at {Address} registered with {Scheduler}: lease {LeaseMs} ms, heartbeat every {HeartbeatMs} ms")]
    private static partial void LogRegistered(ILogger logger, string nodeId, string address, string scheduler, int leaseMs, int heartbeatMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Node {NodeId} could not register with {Scheduler} (attempt {Attempt}: {Status} {Detail}); retrying in {Delay}")]
    private static partial void LogRegisterFailed(ILogger logger, string nodeId, string scheduler, int attempt, StatusCode status, string detail, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Error, Message = "Node {NodeId}: the scheduler at {Scheduler} refuses its node token (attempt {Attempt}: {Detail}). Worker:NodeToken (environment Worker__NodeToken) must be the scheduler's Scheduler:NodeToken; retrying in {Delay}")]
    private static partial void LogNodeTokenRefused(ILogger logger, string nodeId, string scheduler, int attempt, string detail, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Error, Message = "Node {NodeId}: the scheduler at {Scheduler} refuses its description (attempt {Attempt}: {Detail}). The node's replicas are set by Worker:Accelerators, the models the scheduler serves by its Scheduler:Models; retrying in {Delay}")]
    private static partial void LogDescriptionRefused(ILogger logger, string nodeId, string scheduler, int attempt, string detail, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Error, Message = "Node {NodeId}: the scheduler at {Scheduler} refuses it, another running worker holds its node id (attempt {Attempt}: {Detail}). Each worker needs its own Worker:NodeId; retrying in {Delay}")]
    private static partial void LogNodeIdTaken(ILogger logger, string nodeId, string scheduler, int attempt, string detail, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Heartbeat of node {NodeId} through {Scheduler} failed: {Status} {Detail}")]
    private static partial void LogHeartbeatFailed(ILogger logger, string nodeId, string scheduler, StatusCode status, string detail);

    [LoggerMessage(Level = LogLevel.Error, Message = "Node {NodeId}: the scheduler at {Scheduler} refuses its node token on a heartbeat ({Status} {Detail}): was the scheduler's Scheduler:NodeToken rotated and not this node's? Worker:NodeToken (environment Worker__NodeToken) must be the scheduler's Scheduler:NodeToken; registering again")]
    private static partial void LogHeartbeatTokenRefused(ILogger logger, string nodeId, string scheduler, StatusCode status, string detail);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The scheduler does not know node {NodeId} any more: registering again")]
    private static partial void LogUnknownToScheduler(ILogger logger, string nodeId);
}
