using Scheduler.Policies;
using Scheduler.Simulator.Fleet;
using Scheduler.Simulator.Metrics;

namespace Scheduler.Simulator.Scenarios;

/// <summary>Every placement (cost-aware and the four baselines) × continuous / request-level × weighted-fair / fifo.</summary>
internal static class PolicyMatrix
{
    public static readonly string[] Placements = ["cost-aware", "round-robin", "least-outstanding", "power-of-two", "queue-kv"];
    public static readonly string[] Batchings = ["continuous", "request-level"];
    public static readonly string[] Fairnesses = ["weighted-fair", "fifo"];

    public static IReadOnlyList<PolicyChoice> Choices() =>
        [.. from batching in Batchings from fairness in Fairnesses from placement in Placements select new PolicyChoice(placement, fairness, batching)];

    /// <summary>Runs each choice on its own simulation (in parallel; each run is deterministic), in choice order.</summary>
    public static IReadOnlyList<RunResult> Run(FleetSpec fleet, Workload.Workload workload, IReadOnlyList<PolicyChoice> choices, int seed)
    {
        var results = new RunResult[choices.Count];
        Parallel.For(0, choices.Count, i => results[i] = new Simulation(fleet, workload, choices[i], seed).Run());
        return results;
    }

    /// <summary>The default choice: what the scheduler runs unless configured otherwise.</summary>
    public static PolicyChoice Default { get; } =
        new(SchedulingPolicies.DefaultPlacement, SchedulingPolicies.DefaultFairness, SchedulingPolicies.DefaultBatching);
}
