using System.CommandLine;
using Scheduler.Policies.Placement;
using Scheduler.Simulator.Cli;

namespace Scheduler.Simulator.Scenarios;

/// <summary>
/// Everything the matrix command varies, with the documented defaults: each trace's rate factor, the saturation
/// burst for continuous vs request-level batching, the flood scenario, the seed, and the price of a second of waiting
/// that cost-aware placement counts.
/// </summary>
internal sealed record BenchmarkSettings(
    string TracesFolder,
    string OutputFolder,
    double CodeRateFactor,
    double ConvRateFactor,
    int BurstRequests,
    double BurstRateFactor,
    FloodScenario.Settings Flood,
    int Seed,
    double WaitCostUsdPerSecond = PlacementSettings.DefaultWaitCostUsdPerSecond)
{
    public static BenchmarkSettings From(ParseResult parse) => new(
        parse.GetRequiredValue(SimulatorOptions.Traces),
        parse.GetRequiredValue(SimulatorOptions.Out),
        parse.GetValue(SimulatorOptions.CodeRate),
        parse.GetValue(SimulatorOptions.ConvRate),
        parse.GetValue(SimulatorOptions.BurstRequests),
        parse.GetValue(SimulatorOptions.BurstRate),
        SimulatorOptions.Flood(parse),
        parse.GetValue(SimulatorOptions.Seed),
        parse.GetValue(SimulatorOptions.WaitCost));

    /// <summary>The default policies, the wait priced as set.</summary>
    public PolicyChoice Default => PolicyMatrix.Default with { WaitCostUsdPerSecond = WaitCostUsdPerSecond };

    /// <summary>Every placement × batching × fairness, the wait priced as set.</summary>
    public IReadOnlyList<PolicyChoice> Choices() => [.. PolicyMatrix.Choices().Select(c => c with { WaitCostUsdPerSecond = WaitCostUsdPerSecond })];

    public IReadOnlyList<TraceScenario> Traces => [new("code", CodeRateFactor), new("conv", ConvRateFactor)];
}
