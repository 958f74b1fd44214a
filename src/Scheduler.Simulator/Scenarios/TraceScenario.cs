using Scheduler.Simulator.Cli;
using Scheduler.Simulator.Workload;

namespace Scheduler.Simulator.Scenarios;

/// <summary>One Azure trace replayed at a stated rate factor (the arrival rate is multiplied by it).</summary>
internal sealed record TraceScenario(string Name, double RateFactor)
{
    public string FileName => $"azure-llm-2023-{Name}.csv";

    public Workload.Workload Load(string tracesFolder, double? durationSeconds = null) =>
        TenantAssignment.FromTrace(Name, TraceReader.Read(Path.Combine(tracesFolder, FileName), option: SimulatorOptions.Traces.Name).Rows, RateFactor, TenantAssignment.DefaultSeed, durationSeconds);
}
