using System.CommandLine;
using Scheduler.Simulator.Cli;

namespace Scheduler.Simulator.Scenarios;

/// <summary>
/// Everything the matrix command varies, with the documented defaults: each trace's rate factor, the saturation
/// burst for continuous vs request-level batching, the flood scenario, the seed.
/// </summary>
internal sealed record BenchmarkSettings(
    string TracesFolder,
    string OutputFolder,
    double CodeRateFactor,
    double ConvRateFactor,
    int BurstRequests,
    double BurstRateFactor,
    FloodScenario.Settings Flood,
    int Seed)
{
    public static BenchmarkSettings From(ParseResult parse) => new(
        parse.GetRequiredValue(SimulatorOptions.Traces),
        parse.GetRequiredValue(SimulatorOptions.Out),
        parse.GetValue(SimulatorOptions.CodeRate),
        parse.GetValue(SimulatorOptions.ConvRate),
        parse.GetValue(SimulatorOptions.BurstRequests),
        parse.GetValue(SimulatorOptions.BurstRate),
        SimulatorOptions.Flood(parse),
        parse.GetValue(SimulatorOptions.Seed));

    public IReadOnlyList<TraceScenario> Traces => [new("code", CodeRateFactor), new("conv", ConvRateFactor)];
}
