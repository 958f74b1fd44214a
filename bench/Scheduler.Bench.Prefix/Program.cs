using System.Diagnostics;
using System.Globalization;
using System.Text;
using Scheduler.Bench.Harness;
using Scheduler.Bench.Prefix;

// One live run of prefix-cache-aware placement (issue 14): for each placement policy, a fresh silo process and fresh
// worker node processes of simulated replicas (cold prefix caches) on loopback, the same multi-turn workload, and
// the prefix hit rate and TTFT the client saw. Bounded: fixed job count, two minutes to start a fleet, ten per
// workload. See docs/benchmarks.md.
PrefixBenchSettings settings;
try
{
    settings = PrefixBenchSettings.Parse(args);
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine($"bench: {ex.Message}");
    return 2;
}

static string Load() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "n/a";
static void Log(string message) => Console.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] {message}");

var startedAt = DateTime.UtcNow;
var results = new List<(PolicyResult Result, string LoadBefore, string LoadAfter)>();
foreach (var policy in settings.Policies)
{
    results.Add(await RunPolicyAsync(policy, settings));
}

var report = new StringBuilder();
report.AppendLine(CultureInfo.InvariantCulture, $"Live prefix run, {startedAt:yyyy-MM-dd HH:mm} UTC: {settings.Conversations} conversations × {settings.Turns} turns "
    + $"(first message {settings.FirstMessageChars:N0} characters, then {settings.UserMessageChars:N0}; {settings.AnswerTokens} answer tokens; "
    + $"starts {settings.StartIntervalMs} ms apart, {settings.ThinkMs} ms think time) on {settings.Nodes} nodes × {settings.ReplicasPerNode} simulated {settings.Product} replicas; "
    + $"{(settings.Sessions ? "each conversation names its session (session_id)" : "no session ids")}.");
report.AppendLine();
report.AppendLine("| placement | turns | failed | prompt tokens | cached | hit rate | of oracle | TTFT p50 ms | p90 ms | p99 ms | mean TTFT turns 2+ ms | wall s | index blocks at the end | load before → after |");
report.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
foreach (var (result, before, after) in results)
{
    report.AppendLine(CultureInfo.InvariantCulture, $"{result.Row()} {before} → {after} |");
}

Console.WriteLine();
Console.WriteLine(report);
var outPath = RepositoryPaths.Resolve(settings.OutPath);
Directory.CreateDirectory(Path.GetDirectoryName(outPath)!);
await File.WriteAllTextAsync(outPath, report.ToString());
Log($"results written to {outPath}");
return 0;

// A fresh fleet for the policy, the workload on it, and the fleet's processes killed.
static async Task<(PolicyResult Result, string LoadBefore, string LoadAfter)> RunPolicyAsync(string policy, PrefixBenchSettings settings)
{
    using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(12));
    Log($"{policy}: starting a silo and {settings.Nodes} nodes of {settings.ReplicasPerNode} {settings.Product} replicas");
    await using var fleet = await LiveFleet.StartAsync(policy, settings, bound.Token);
    var loadBefore = Load();
    Log($"{policy}: {settings.Conversations} conversations of {settings.Turns} turns (load average {loadBefore})");
    var clock = Stopwatch.StartNew();
    var turns = await MultiTurnWorkload.RunAsync(fleet.Address, settings, bound.Token).WaitAsync(TimeSpan.FromMinutes(10), bound.Token);
    var (blocks, forgotten) = await fleet.PrefixIndexAsync(bound.Token);
    var result = PolicyResult.Of(policy, turns, clock.Elapsed.TotalSeconds) with { IndexBlocks = blocks, IndexForgotten = forgotten };
    Log($"{policy}: hit rate {result.HitRate:P1} ({result.OfOracle:P1} of the oracle), TTFT p50 {result.P50:F0} ms, p90 {result.P90:F0} ms, p99 {result.P99:F0} ms");
    return (result, loadBefore, Load());
}
