using Scheduler.Simulator.Engine;
using Scheduler.Simulator.Fleet;

namespace Scheduler.Simulator.Metrics;

/// <summary>What one simulation run produced: every finished request, every request not served (with why), and every
/// replica's counters.</summary>
internal sealed record RunResult(
    string Workload,
    FleetSpec Fleet,
    PolicyChoice Policies,
    IReadOnlyList<SimSequence> Finished,
    IReadOnlyList<SimSequence> Unserved,
    IReadOnlyList<SimReplica> Replicas,
    FairnessResult Fairness,
    double WallMs)
{
    public RunSummary Summarize() => RunSummary.Of(this);
}
