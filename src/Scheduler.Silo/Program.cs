using Microsoft.Extensions.Options;
using Scheduler.Silo.Hosting;

// A production silo: it serves and waits for worker nodes to register. The single-process scheduler with its own
// simulated fleet and the demo is src/Scheduler.Standalone.
await using var app = SchedulerHost.Build(args);
try
{
    await app.StartAsync();
}
catch (OptionsValidationException ex)
{
    // A settings mistake deserves its message (which names the key), not a stack trace and an abort.
    await Console.Error.WriteLineAsync($"configuration refused: {ex.Message}");
    return 2;
}

await app.WaitForShutdownAsync();
return 0;
