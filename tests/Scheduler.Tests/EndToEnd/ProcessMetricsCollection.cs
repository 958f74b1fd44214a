namespace Scheduler.Tests.EndToEnd;

/// <summary>Tests that read a metric value an in-process silo exports. OpenTelemetry's meter provider listens to every
/// meter of the scheduler's name in the process, so a silo of another test running beside them (same meter name, its
/// own certificate, its own request bodies) reports into the same unlabelled series: these run alone, after the parallel tests.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessMetricsCollection
{
    public const string Name = "process metrics";
}
