namespace Scheduler.Tests.Faults;

/// <summary>Fault tests (and the chart boot test, Deploy/ChartBootTests) each start a whole cluster of processes:
/// they run one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FaultCollection
{
    public const string Name = "faults";
}
