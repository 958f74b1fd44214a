using System.Globalization;

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
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i += 2)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                throw new ArgumentException($"expected --name value pairs, got \"{args[i]}\"");
            }

            values[args[i][2..]] = args[i + 1];
        }

        int Int(string name, int fallback, int min)
        {
            if (!values.Remove(name, out var text))
            {
                return fallback;
            }

            return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= min
                ? value
                : throw new ArgumentException($"--{name} must be an integer of at least {min}, got \"{text}\"");
        }

        string Text(string name, string fallback) => values.Remove(name, out var text) ? text : fallback;

        var settings = new RestartBenchSettings(
            Int("jobs", 50_000, 1),
            Int("tenants", 50, 1),
            Int("runs", 1, 1),
            Int("concurrency", 16, 1),
            Int("max-tokens", 16, 1),
            Text("speed-up", "instant"),
            Text("configuration", "Release"),
            Text("redis-server", "redis-server"),
            Text("silo-settings", "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            Text("log-directory", ""),
            Int("run-seconds", 900, 10));
        return values.Count == 0 ? settings : throw new ArgumentException($"unknown setting --{values.Keys.First()}");
    }
}
