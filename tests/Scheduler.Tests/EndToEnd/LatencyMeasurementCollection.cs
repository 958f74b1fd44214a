namespace Scheduler.Tests.EndToEnd;

/// <summary>
/// Tests that hold live latencies to each other (a light tenant's time to first token against a flood's) or need load
/// to build up within a set time (PriorityTests): they run alone, after the parallel tests, each on a cluster of its own. Beside a whole-cluster fault test starting its silos (a
/// burst of several processes compiling at once on two cores), one of eight light jobs once took 908 ms where the
/// others took 130–175 ms, and the ordering the test checks read as broken when the machine, not the scheduler, had
/// stalled (ci125, 2026-12-07).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LatencyMeasurementCollection
{
    public const string Name = "latency measurements";
}
