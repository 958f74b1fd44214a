using System.Collections.Concurrent;
using Scheduler.Protos.V1;
using Scheduler.Worker.Engines;

namespace Scheduler.Tests.Worker;

/// <summary>Collects an engine's step reports and lets a test wait for a condition over them.</summary>
internal sealed class RecordingSink : IStepReportSink, IDisposable
{
    private readonly ConcurrentQueue<StepReport> _reports = new();
    private readonly SemaphoreSlim _published = new(0);

    public IReadOnlyCollection<StepReport> Reports => _reports;

    public bool TryPublish(StepReport report)
    {
        _reports.Enqueue(report);
        _published.Release();
        return true;
    }

    public ValueTask WaitForRoomAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public void Dispose() => _published.Dispose();

    /// <summary>Waits until <paramref name="done"/> holds over the reports so far, or fails after <paramref name="timeout"/>.</summary>
    public async Task WaitUntilAsync(Func<IReadOnlyCollection<StepReport>, bool> done, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (!done(_reports))
        {
            await _published.WaitAsync(cts.Token);
        }
    }
}
