namespace Scheduler.Tests;

/// <summary>Bounded waits: poll a condition until it holds, failing the test after a timeout — never an open-ended
/// wait, never a fixed sleep standing in for one.</summary>
internal static class Polling
{
    private static readonly TimeSpan DefaultInterval = TimeSpan.FromMilliseconds(10);

    public static Task Until(Func<bool> condition, string what, TimeSpan timeout, TimeSpan? interval = null) =>
        Until(() => Task.FromResult(condition()), what, timeout, interval);

    // Conditions that call the silo pass a longer interval, so polling does not load it.
    public static async Task Until(Func<Task<bool>> condition, string what, TimeSpan timeout, TimeSpan? interval = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out waiting for: {what}");
            await Task.Delay(interval ?? DefaultInterval);
        }
    }
}
