using System.Collections.Concurrent;
using Scheduler.Protos.V1;
using Scheduler.Worker.Engines;

namespace Scheduler.Tests.Worker;

/// <summary>Collects an engine's step reports and lets a test wait for a condition over them.</summary>
internal sealed class RecordingSink : IStepReportSink
{
    private readonly ConcurrentQueue<StepReport> _reports = new();

    // Completed and replaced on every report, so that every waiter wakes: a test may wait on two conditions at once
    // (one releasing the upstream's cut, the other the sequence's end), and a semaphore would wake only one of them
    // per report, leaving the other asleep on a condition that already holds.
    private TaskCompletionSource _published = NewSignal();

    public IReadOnlyCollection<StepReport> Reports => _reports;

    /// <summary>While true, the sink refuses every report (a consumer that does not keep up).</summary>
    public bool Full { get; set; }

    public bool TryPublish(StepReport report)
    {
        if (Full)
        {
            return false;
        }

        _reports.Enqueue(report);
        Interlocked.Exchange(ref _published, NewSignal()).TrySetResult();
        return true;
    }

    public ValueTask WaitForRoomAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>Waits until <paramref name="done"/> holds over the reports so far, or fails after <paramref name="timeout"/>.</summary>
    public async Task WaitUntilAsync(Func<IReadOnlyCollection<StepReport>, bool> done, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            // Taken before the check: a report published after the check completes this signal.
            var published = Volatile.Read(ref _published).Task;
            if (done(_reports))
            {
                return;
            }

            await published.WaitAsync(cts.Token);
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
