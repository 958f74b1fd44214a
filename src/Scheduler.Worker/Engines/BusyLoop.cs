namespace Scheduler.Worker.Engines;

/// <summary>
/// The loop of an engine whose steps last as long as their work (a llama.cpp decode call, an upstream's stream): it
/// steps back to back while there is work, sleeps until an admission or a cancel wakes it, and waits for the sink
/// while the scheduler is behind. The simulated engine paces its steps on a timeline and has a loop of its own.
/// </summary>
internal static class BusyLoop
{
    public static async Task RunAsync<TStep>(
        Func<TStep?> takeStep,
        Func<TStep, bool> tryPublish,
        Func<CancellationToken, Task> waitForWork,
        IStepReportSink sink,
        CancellationToken cancellationToken)
        where TStep : class
    {
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var step = takeStep();
            if (step is null)
            {
                await waitForWork(cancellationToken);
                continue;
            }

            while (!tryPublish(step))
            {
                await sink.WaitForRoomAsync(cancellationToken);
            }
        }
    }
}
