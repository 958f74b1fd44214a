using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;
using Scheduler.Worker.Engines.Llama;
using Scheduler.Worker.Engines.Upstream;
using Scheduler.Worker.Hosting;
using Scheduler.Worker.Telemetry;

namespace Scheduler.Worker.Engines;

/// <summary>The node's engines, one per replica, and the background service that runs their step loops.</summary>
internal sealed partial class ReplicaEngines : BackgroundService
{
    private readonly FrozenDictionary<string, IInferenceEngine> _engines;
    private readonly ILogger<ReplicaEngines> _logger;
    private readonly IDisposable? _llamaCppLog;
    private int _faulted;

    public ReplicaEngines(NodeInventory inventory, IStepReportSink sink, TimeProvider time, ILoggerFactory loggerFactory, WorkerTelemetry telemetry)
    {
        _logger = loggerFactory.CreateLogger<ReplicaEngines>();
        var simulatedLogger = loggerFactory.CreateLogger<SimulatedEngine>();
        var llamaLogger = loggerFactory.CreateLogger<LlamaEngine>();
        var upstreamLogger = loggerFactory.CreateLogger<UpstreamEngine>();
        if (inventory.Replicas.Any(r => r.Llama is not null))
        {
            _llamaCppLog = LlamaNativeLog.Attach(loggerFactory.CreateLogger("LlamaCpp"));
        }

        _engines = inventory.Replicas.ToFrozenDictionary(
            r => r.ReplicaId,
            IInferenceEngine (r) =>
            {
                var meter = telemetry.Replica(r.ReplicaId, r.Model, r.EngineProfile.KvCapacityTokens);
                return r switch
                {
                    { Llama: { } llama } => new LlamaEngine(r.ReplicaId, r.EngineProfile, llama, r.MaxContextTokens, sink, time, llamaLogger, meter, r.PrefillMicroBatchTokens),
                    { Upstream: { } upstream } => new UpstreamEngine(r.ReplicaId, r.EngineProfile, upstream, sink, time, upstreamLogger, meter: meter),
                    _ => new SimulatedEngine(r.ReplicaId, r.EngineProfile, sink, time, simulatedLogger, r.PrefillMicroBatchTokens, meter),
                };
            },
            StringComparer.Ordinal);
    }

    /// <summary>Sequences running on the whole node.</summary>
    public int RunningSequences => _engines.Values.Sum(e => e.RunningSequences);

    /// <summary>No engine runs or holds a sequence, and every finish went out in a report.</summary>
    public bool Settled => _engines.Values.All(e => e.Settled);

    /// <summary>False once an engine's loop has died; the node then reports itself unhealthy.</summary>
    public bool Healthy => Volatile.Read(ref _faulted) == 0;

    public bool TryGet(string replicaId, [NotNullWhen(true)] out IInferenceEngine? engine) =>
        _engines.TryGetValue(replicaId, out engine);

    /// <summary>Drops every sequence on every replica without reporting them (the scheduler re-dispatches them); returns
    /// how many were running.</summary>
    public int CancelAllSilently()
    {
        var running = RunningSequences;
        foreach (var engine in _engines.Values)
        {
            engine.CancelAllSilently();
        }

        return running;
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(_engines.Values.Select(e => RunEngineAsync(e, stoppingToken)));

    // The container disposes this singleton after the host has stopped it, so every step loop has ended.
    public override void Dispose()
    {
        foreach (var engine in _engines.Values)
        {
            engine.Dispose();
        }

        _llamaCppLog?.Dispose();
        base.Dispose();
    }

    private async Task RunEngineAsync(IInferenceEngine engine, CancellationToken stoppingToken)
    {
        try
        {
            await engine.RunAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
        catch (Exception ex)
        {
            // One broken replica must not take the node's other replicas down with it.
            Interlocked.Exchange(ref _faulted, 1);
            LogEngineFailed(_logger, ex, engine.ReplicaId);
        }
    }

    [LoggerMessage(Level = LogLevel.Critical, Message = "The engine of replica {ReplicaId} stopped")]
    private static partial void LogEngineFailed(ILogger logger, Exception exception, string replicaId);
}
