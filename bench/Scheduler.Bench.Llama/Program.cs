using Scheduler.Bench.Harness;
using Scheduler.Bench.Llama;
using Scheduler.Bench.Llama.Direct;
using Scheduler.Bench.Llama.Report;
using Scheduler.Bench.Llama.SchedulerPath;
using Scheduler.Bench.Llama.Workload;
using Scheduler.Testing;

// One run on a GGUF model the bench writes, each measurement once: what a decode step costs by its sequences, the
// llama engine driven directly with continuous and with request-level admission, then the same workload through the
// scheduler. See docs/benchmarks.md.
LlamaBenchSettings settings;
try
{
    settings = LlamaBenchSettings.Parse(args);
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine($"bench: {ex.Message}");
    return 2;
}

// A hard bound on the whole run: whatever hangs, the process ends.
using var runTimeout = new CancellationTokenSource(TimeSpan.FromMinutes(settings.LimitMinutes));
var startedAt = DateTimeOffset.UtcNow;
var loadBefore = MachineLoad.Read();
static void Log(string message) => Console.WriteLine($"[{DateTime.Now:HH:mm:ss}] {message}");

// Each path's figures as it ends, so a run stopped by its limit still shows the paths it finished.
static RunResult Logged(RunResult result)
{
    Log($"  {result.Path}: {result.TokensPerSecond:N0} tokens/s, {result.CpuSeconds:0.00} CPU s, engine CPU {result.EngineCpuSeconds?.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture) ?? "—"} s over {result.Engine.Decodes:N0} decode calls of {(double)result.Engine.BatchedSequences / Math.Max(1, result.Engine.Decodes):0.0} sequences, load average {MachineLoad.Read()}");
    return result;
}

var directory = Directory.CreateTempSubdirectory("bench-llama-");
try
{
    var modelPath = TinyGguf.WriteShaped(directory.FullName, settings.Shape);
    var options = BenchNode.Options(modelPath, settings);
    var jobs = JobMix.Jobs(settings.Jobs);

    // First: it also runs the engine's code hot, so the first measured path does not pay for the JIT.
    Log("decode cost by sequences per step");
    var sweep = await DecodeCostSweep.RunAsync(options, runTimeout.Token);
    foreach (var cost in sweep)
    {
        Log($"  {cost.Sequences:0.#} sequences: {cost.CpuMsPerDecode:0.00} CPU ms per decode");
    }


    Log("direct, continuous batching");
    var continuous = Logged(await DirectEngineRun.RunAsync("engine directly, continuous", options, Batching.Continuous, jobs, runTimeout.Token));
    Log("direct, request-level batching");
    var requestLevel = Logged(await DirectEngineRun.RunAsync("engine directly, request-level", options, Batching.RequestLevel, jobs, runTimeout.Token));
    Log("through the scheduler");
    var scheduler = Logged(await SchedulerEngineRun.RunAsync("through the scheduler (continuous)", modelPath, settings, jobs, Log, runTimeout.Token));

    var markdown = LlamaBenchReport.Markdown(settings, sweep, continuous, requestLevel, scheduler, startedAt, loadBefore, MachineLoad.Read());
    Console.WriteLine();
    Console.WriteLine(markdown);
    var outPath = RepositoryPaths.Resolve(settings.OutPath);
    Directory.CreateDirectory(Path.GetDirectoryName(outPath)!);
    await File.WriteAllTextAsync(outPath, markdown, runTimeout.Token);
    Log($"results written to {outPath}");
    return 0;
}
finally
{
    directory.Delete(recursive: true);
}
