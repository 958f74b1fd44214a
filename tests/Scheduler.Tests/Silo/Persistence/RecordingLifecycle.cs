namespace Scheduler.Tests.Silo.Persistence;

/// <summary>A silo lifecycle that only keeps what subscribes, so a test starts and stops a participant by hand.</summary>
internal sealed class RecordingLifecycle : ISiloLifecycle
{
    public List<(int Stage, ILifecycleObserver Observer)> Observers { get; } = [];

    public int HighestCompletedStage => 0;

    public int LowestStoppedStage => 0;

    public IDisposable Subscribe(string observerName, int stage, ILifecycleObserver observer)
    {
        Observers.Add((stage, observer));
        return new CancellationTokenSource();
    }
}
