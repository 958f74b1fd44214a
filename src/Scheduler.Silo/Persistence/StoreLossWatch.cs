using StackExchange.Redis;

namespace Scheduler.Silo.Persistence;

/// <summary>
/// Ends the silo process (<see cref="ExitCode"/>) when Redis has lost the data the cluster started on
/// (<see cref="StoreMarker"/>), so that its supervisor (Kubernetes) starts it again into the store as it is now: one
/// cluster again, with the configured tenants seeded at start-up.
/// </summary>
/// <remarks>
/// Why end rather than live on: Orleans' Redis membership does not survive its table vanishing. Every read then fails
/// ("the Redis membership table version is missing"), every heartbeat write fails, and the silo keeps its last view of
/// the cluster for good; a silo started meanwhile writes a new table and forms a second cluster beside it, so one grain
/// (a model's placement) can run twice. Its grains also write what they hold in memory back into the emptied store (a
/// tenant's state without its API key's), and a graceful stop hung on the missing table for two minutes. So the process
/// ends at once, without the graceful stop that would write that state: its jobs' clients and its worker nodes go to
/// the other silos as after a crash. A Redis that does not answer is an outage, not a loss: the check fails and the
/// silo goes on, as docs/operations.md promises.
/// </remarks>
internal sealed partial class StoreLossWatch(
    StoreMarker marker,
    TimeSpan interval,
    IProcessHalt halt,
    TimeProvider time,
    ILogger<StoreLossWatch> logger) : ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    /// <summary>The exit code of a silo that found Redis had lost its data.</summary>
    public const int ExitCode = 3;

    private readonly CancellationTokenSource _stopping = new();
    private Task _watching = Task.CompletedTask;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(StoreLossWatch), ServiceLifecycleStage.Active, Start, Stop);

    private async Task Start(CancellationToken cancellationToken)
    {
        // Once the silo has joined: the life it joined on is the one to watch. Redis answered the join a moment ago; if
        // it does not answer now, the start fails and the silo is restarted, as when Redis is unreachable at start-up.
        var life = await marker.Establish().WaitAsync(cancellationToken);
        LogWatching(logger, marker.Key, life);
        _watching = Watch(_stopping.Token);
    }

    private async Task Stop(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await _watching.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async Task Watch(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping))
            {
                StoreCheck check;
                try
                {
                    check = await marker.Check();
                }
                catch (Exception ex) when (ex is RedisException or TimeoutException)
                {
                    // Unreachable or stalled: an outage, which the silo lives through.
                    LogCheckFailed(logger, ex);
                    continue;
                }

                if (check.IsLost)
                {
                    var reason = $"Redis lost the scheduler's data: the store marker {marker.Key} " +
                        (check.Now is null ? "is gone" : $"names another life ({check.Now})") +
                        $", not the one this silo started on ({check.StartedOn}). This silo's cluster membership and the state " +
                        "its grains hold belong to data that no longer exists; it exits so that it is started again into the store " +
                        "as it is now (one cluster, the configured tenants seeded again)";
                    LogStoreLost(logger, reason);
                    halt.Halt(ExitCode, reason);
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // The silo is stopping.
        }
    }

    public void Dispose() => _stopping.Dispose();

    [LoggerMessage(Level = LogLevel.Information, Message = "Watching the store marker {Key} (life {Life}): the silo exits if Redis loses its data")]
    private static partial void LogWatching(ILogger logger, string key, string life);

    [LoggerMessage(Level = LogLevel.Debug, Message = "The store marker could not be read; Redis may be unreachable, which is not a loss of its data")]
    private static partial void LogCheckFailed(ILogger logger, Exception ex);

    [LoggerMessage(Level = LogLevel.Critical, Message = "{Reason}")]
    private static partial void LogStoreLost(ILogger logger, string reason);
}
