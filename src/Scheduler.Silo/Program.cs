using Scheduler.Silo.Hosting;

// A production silo: it serves and waits for worker nodes to register. The single-process scheduler with its own
// simulated fleet and the demo is src/Scheduler.Standalone.
await using var app = SchedulerHost.Build(args);
if (!await SchedulerHost.TryStartAsync(app))
{
    return 2;
}

await app.WaitForShutdownAsync();
return 0;
