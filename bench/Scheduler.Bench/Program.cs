using Scheduler.Bench;
using Scheduler.Bench.Echo;
using Scheduler.Bench.Harness;
using Scheduler.Bench.Report;
using Scheduler.Bench.SchedulerPath;

// Measures, in one run on loopback, a bare gRPC echo and the scheduler's StreamJob with an instant engine, and
// prints the DESIGN.md overhead ratios. See docs/benchmarks.md.
BenchSettings settings;
try
{
    settings = BenchSettings.Parse(args);
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine($"bench: {ex.Message}");
    return 2;
}

// A hard bound on the whole run: whatever hangs, the process ends. Giving a tenant its keys one submission at a time
// takes minutes when each costs what it did before keys were stored one by one.
var bound = TimeSpan.FromMinutes(settings.Mode == "idempotency" ? 12 : 4);
using var runTimeout = new CancellationTokenSource(bound);
try
{
    return await Run(settings, runTimeout.Token);
}
catch (Exception ex) when (runTimeout.IsCancellationRequested && ex is OperationCanceledException or Grpc.Core.RpcException { StatusCode: Grpc.Core.StatusCode.Cancelled })
{
    // Reached by a long job mix (a paced engine, many output tokens), not only by a hang: say so instead of a stack trace.
    Console.Error.WriteLine($"bench: stopped at its {bound.TotalMinutes:0}-minute bound before the run ended; nothing was written. " +
                            "Long jobs (--speedup, --max-tokens) need fewer --warm-up-jobs and --jobs.");
    return 1;
}

static async Task<int> Run(BenchSettings settings, CancellationToken cancellationToken)
{
    var startedAt = DateTimeOffset.UtcNow;
    var loadBefore = MachineLoad.Read();
    static void Log(string message) => Console.WriteLine($"[{DateTime.Now:HH:mm:ss}] {message}");

    if (settings.Mode is "openai" or "idempotency")
    {
        var comparison = settings.Mode == "openai"
            ? await OpenAiComparison.RunAsync(settings, Log, cancellationToken)
            : await IdempotencyBenchmark.RunAsync(settings, Log, cancellationToken);
        return await Publish(comparison);
    }

    // The echo runs first, with the silo not yet started, so that the baseline has the machine to itself.
    var echo = await EchoBenchmark.RunAsync(settings, Log, cancellationToken);
    var scheduler = await SchedulerBenchmark.RunAsync(settings, Log, cancellationToken);

    return await Publish(BenchReport.Markdown(settings, echo, scheduler, startedAt, loadBefore, MachineLoad.Read()));

    // Prints the report and writes it to --out.
    async Task<int> Publish(string markdown)
    {
        Console.WriteLine();
        Console.WriteLine(markdown);
        var outPath = settings.ResolvedOutPath;
        Directory.CreateDirectory(Path.GetDirectoryName(outPath)!);
        await File.WriteAllTextAsync(outPath, markdown, cancellationToken);
        Log($"results written to {outPath}");
        return 0;
    }
}
