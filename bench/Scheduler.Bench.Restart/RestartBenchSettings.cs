using Scheduler.Bench.Harness;

namespace Scheduler.Bench.Restart;

/// <summary>The run's parameters, from <c>--name value</c> pairs.</summary>
/// <param name="Jobs">Jobs queued before the kill, spread evenly over the tenants.</param>
/// <param name="Tenants">Tenants made by <c>PutTenant</c>, each with its own key.</param>
/// <param name="Runs">Runs, each on a fresh redis-server and a fresh silo.</param>
/// <param name="Concurrency">Calls in flight while submitting and checking.</param>
/// <param name="MaxTokens">max_tokens of every job.</param>
/// <param name="SpeedUp">The simulated fleet's speed once uncordoned ("instant" or a factor).</param>
/// <param name="Configuration">The build configuration of the standalone scheduler to run.</param>
/// <param name="RedisServer">The redis-server executable.</param>
/// <param name="SiloSettings">More configuration for the silo, as <c>Key=Value</c> pairs separated by commas (e.g.
/// <c>Scheduler:Telemetry:GaugeRefresh=01:00:00</c>).</param>
/// <param name="LogDirectory">Where each silo's output is written at the end of a run; empty for nowhere.</param>
/// <param name="RunSeconds">Bound on one run, from the first start to the last check.</param>
internal sealed record RestartBenchSettings(
    int Jobs,
    int Tenants,
    int Runs,
    int Concurrency,
    int MaxTokens,
    string SpeedUp,
    string Configuration,
    string RedisServer,
    string[] SiloSettings,
    string LogDirectory,
    int RunSeconds)
{
    public static RestartBenchSettings Parse(string[] args)
    {
        var arguments = new NamedArguments(args);
        var settings = new RestartBenchSettings(
            arguments.Int("jobs", 50_000, 1),
            arguments.Int("tenants", 50, 1),
            arguments.Int("runs", 1, 1),
            arguments.Int("concurrency", 16, 1),
            arguments.Int("max-tokens", 16, 1),
            arguments.Text("speed-up", "instant"),
            arguments.Text("configuration", "Release"),
            arguments.Text("redis-server", "redis-server"),
            arguments.Text("silo-settings", "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            arguments.Text("log-directory", ""),
            arguments.Int("run-seconds", 900, 10));
        return arguments.AllTaken(settings);
    }
}
