namespace Scheduler.Grains;

/// <summary>What a call to a grain throws while the silo hosting it fails or its grains move: worth repeating, since
/// the cluster reactivates the grain elsewhere within seconds (failure detection plus the directory's lease).</summary>
public static class SiloFailures
{
    /// <summary>How often an idempotent call that must land is tried before giving up.</summary>
    public const int Attempts = 20;

    /// <summary>The pause between tries: <see cref="Attempts"/> of them outlast a silo's failover.</summary>
    public static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(500);

    public static bool IsTransient(Exception ex) =>
        ex is SiloUnavailableException or OrleansMessageRejectionException or TimeoutException;
}
