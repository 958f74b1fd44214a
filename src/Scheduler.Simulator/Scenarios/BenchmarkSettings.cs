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
    public static BenchmarkSettings From(CommandLine line) => new(
        line.Get("traces", "../shared/traces"),
        line.Get("out", "bench/results/sim"),
        line.GetDouble("code-rate", 2),
        line.GetDouble("conv-rate", 6),
        line.GetInt("burst-requests", 4_000),
        line.GetDouble("burst-rate", 50),
        new FloodScenario.Settings(line.GetDouble("light-rate", 15), line.GetDouble("flood-multiplier", 10), line.GetDouble("flood-seconds", 120), line.GetInt("seed", 1)),
        line.GetInt("seed", 1));

    public IReadOnlyList<TraceScenario> Traces => [new("code", CodeRateFactor), new("conv", ConvRateFactor)];
}
