using Orleans.Runtime;
using StackExchange.Redis;

namespace Scheduler.Silo.Persistence;

/// <summary>
/// The silo's connection to Redis for the job journal, the job index and idempotency keys, opened asynchronously while
/// the silo starts (<see cref="ServiceLifecycleStage.RuntimeInitialize"/>, before any grain runs), so a grain's first use
/// of it never connects.
/// </summary>
/// <remarks>Why: the connection used to be opened by StackExchange.Redis' synchronous <c>Connect</c> when the first
/// grain that needed it activated — on a silo that joined a loaded cluster, in the middle of its first burst of work. That
/// call blocks a pool thread until the handshake, and every other activation that needed the connection waited behind
/// it on the container's lock; with two pool threads on busy cores it took 10–12 s, and the whole silo stalled that long
/// (a silo-kill test's completions paused as long: docs/reliability.md, "Known limits").</remarks>
internal sealed class RedisConnection(ConfigurationOptions options) : ILifecycleParticipant<ISiloLifecycle>
{
    private readonly Lock _gate = new();
    private IConnectionMultiplexer? _multiplexer;

    /// <summary>The connection; opened here, synchronously, only if something asks for it before the silo starts.</summary>
    public IConnectionMultiplexer Multiplexer
    {
        get
        {
            lock (_gate)
            {
                return _multiplexer ??= ConnectionMultiplexer.Connect(options.Clone());
            }
        }
    }

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(RedisConnection), ServiceLifecycleStage.RuntimeInitialize, ConnectAsync);

    private async Task ConnectAsync(CancellationToken cancellationToken)
    {
        var connected = await ConnectionMultiplexer.ConnectAsync(options.Clone()).WaitAsync(cancellationToken);
        lock (_gate)
        {
            if (_multiplexer is null)
            {
                _multiplexer = connected;
                return;
            }
        }

        // Asked for meanwhile, and opened synchronously: keep that one.
        await connected.DisposeAsync();
    }
}
