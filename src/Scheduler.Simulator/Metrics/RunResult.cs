using Scheduler.Simulator.Engine;
using Scheduler.Simulator.Fleet;

namespace Scheduler.Simulator.Metrics;

/// <summary>What one simulation run produced: every finished request, every request not served (with why), and every
/// replica's counters, and where the prompt tokens a prefix cache could have served were lost.</summary>
internal sealed record RunResult(
    string Workload,
    FleetSpec Fleet,
    PolicyChoice Policies,
    IReadOnlyList<SimSequence> Finished,
    IReadOnlyList<SimSequence> Unserved,
    IReadOnlyList<SimReplica> Replicas,
    FairnessResult Fairness,
    double WallMs,
    PrefixLoss PrefixLoss)
{
    public RunSummary Summarize() => RunSummary.Of(this);
}
