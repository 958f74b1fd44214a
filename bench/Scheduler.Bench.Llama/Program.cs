using Scheduler.Bench.Harness;
using Scheduler.Bench.Llama;
using Scheduler.Bench.Llama.Direct;
using Scheduler.Bench.Llama.Report;
using Scheduler.Bench.Llama.SchedulerPath;
using Scheduler.Bench.Llama.Workload;
using Scheduler.Testing;

// One run on the tiny GGUF model, each measurement once: the llama engine driven directly with continuous and with
// request-level admission, then the same workload through the scheduler. See docs/benchmarks.md.
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
using var runTimeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
var startedAt = DateTimeOffset.UtcNow;
var loadBefore = MachineLoad.Read();
static void Log(string message) => Console.WriteLine($"[{DateTime.Now:HH:mm:ss}] {message}");

var directory = Directory.CreateTempSubdirectory("bench-llama-");
try
{
    var modelPath = TinyGguf.WriteShaped(directory.FullName, settings.Model == "wide" ? TinyGguf.Wide : TinyGguf.Tiny);
    var options = BenchNode.Options(modelPath, settings);
    var jobs = JobMix.Jobs(settings.Jobs);

    Log("direct, continuous batching");
    var continuous = await DirectEngineRun.RunAsync("engine directly, continuous", options, Batching.Continuous, jobs, runTimeout.Token);
    Log("direct, request-level batching");
    var requestLevel = await DirectEngineRun.RunAsync("engine directly, request-level", options, Batching.RequestLevel, jobs, runTimeout.Token);
    Log("through the scheduler");
    var scheduler = await SchedulerEngineRun.RunAsync("through the scheduler (continuous)", modelPath, settings, jobs, Log, runTimeout.Token);

    var markdown = LlamaBenchReport.Markdown(settings, continuous, requestLevel, scheduler, startedAt, loadBefore, MachineLoad.Read());
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
