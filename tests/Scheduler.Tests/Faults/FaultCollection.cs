namespace Scheduler.Tests.Faults;

/// <summary>
/// Fault tests (and the other tests that start a whole cluster of processes: Deploy/ChartBootTests,
/// Cli/ResumingJobStreamTests) run one at a time within this collection: two such clusters at once would double the
/// processes each test's timing was written for. Unlike a collection with parallelization disabled, it runs beside the
/// other tests, started first (<see cref="LongestCollectionsFirst"/>), so the run does not end with a quarter of an
/// hour of whole-cluster tests one after the other on an otherwise idle machine. The silo-kill tests are a second
/// chain beside it (<see cref="SiloFaultCollection"/>).
/// </summary>
[CollectionDefinition(Name)]
public sealed class FaultCollection
{
    public const string Name = "faults";
}
