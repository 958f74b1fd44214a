namespace Scheduler.Grains;

/// <summary>What a call to a grain throws while the silo hosting it fails or its grains move: worth repeating, since
/// the cluster reactivates the grain elsewhere within seconds (failure detection plus the directory's lease).</summary>
public static class SiloFailures
{
    /// <summary>How often an idempotent call that must land is tried before giving up.</summary>
    public const int Attempts = 20;

    /// <summary>The pause between tries: <see cref="Attempts"/> of them outlast a silo's failover.</summary>
    public static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(500);

    /// <summary>How long, in pauses alone, a call that must land is repeated before giving up.</summary>
    public static TimeSpan RetryBudget => RetryDelay * Attempts;

    /// <summary>True for what a grain call throws while a silo fails or the cluster changes. That includes
    /// <see cref="OperationCanceledException"/>: Orleans cancels a call it cannot address then (its directory lookup is
    /// cancelled). A caller that passed a cancellation token of its own checks that token first: its own cancellation is
    /// not a silo failure.</summary>
    public static bool IsTransient(Exception ex) =>
        ex is SiloUnavailableException or OrleansMessageRejectionException or TimeoutException or OperationCanceledException;

    /// <summary>Makes an idempotent call, repeating it while a silo failure is in the way; the last failure, or any
    /// other, is thrown.</summary>
    public static async Task<T> RetryAsync<T>(Func<Task<T>> call, TimeProvider time)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await call();
            }
            catch (Exception ex) when (IsTransient(ex) && attempt < Attempts)
            {
                await Task.Delay(RetryDelay, time);
            }
        }
    }

    /// <inheritdoc cref="RetryAsync{T}(Func{Task{T}}, TimeProvider)"/>
    public static Task RetryAsync(Func<Task> call, TimeProvider time) => RetryAsync(
        async () =>
        {
            await call();
            return true;
        },
        time);
}
