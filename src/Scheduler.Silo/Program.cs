using Scheduler.Silo.Hosting;

// A production silo: it serves and waits for worker nodes to register. The single-process scheduler with its own
// simulated fleet and the demo is src/Scheduler.Standalone.
return await SchedulerHost.RunAsync(() => SchedulerHost.Build(args));
