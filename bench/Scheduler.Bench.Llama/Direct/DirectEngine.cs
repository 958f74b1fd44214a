using Microsoft.Extensions.Logging.Abstractions;
using Scheduler.Worker.Engines.Llama;
using Scheduler.Worker.Hosting;

namespace Scheduler.Bench.Llama.Direct;

/// <summary>
/// The bench node's one replica as a <see cref="LlamaEngine"/> with no scheduler in front: built from the node's own
/// options by its own <see cref="NodeInventory"/>, so the engine driven directly is the code and settings a worker runs.
/// </summary>
internal sealed class DirectEngine : IDisposable
{
    private readonly NodeInventory _inventory;

    public DirectEngine(WorkerNodeOptions options)
    {
        _inventory = NodeInventory.Create(options);
        var replica = _inventory.Replicas.Single();
        Slots = replica.EngineProfile.MaxSequences;
        Engine = new LlamaEngine(
            replica.ReplicaId, replica.EngineProfile, replica.Llama!, replica.MaxContextTokens, Sink, TimeProvider.System, NullLogger<LlamaEngine>.Instance);
    }

    public LlamaEngine Engine { get; }

    /// <summary>Every step report, stamped when the engine published it.</summary>
    public TimestampedSink Sink { get; } = new();

    /// <summary>The replica's slots: the most sequences one step holds.</summary>
    public int Slots { get; }

    /// <summary>
    /// Runs <paramref name="drive"/> on a thread of its own: decode calls block, so the steps get their own thread, as
    /// on a node, and that thread's CPU time is the engine's.
    /// </summary>
    public static Task<T> RunOnOwnThread<T>(Func<T> drive, CancellationToken cancellationToken) =>
        Task.Factory.StartNew(drive, cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    public void Dispose()
    {
        Engine.Dispose();
        _inventory.Dispose();
    }
}
