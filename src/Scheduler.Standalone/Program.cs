using Scheduler.Silo.Hosting;
using Scheduler.Standalone;

// "--demo" is ours, not a configuration key: take it out before the configuration reads the arguments.
var demo = args.Contains("--demo", StringComparer.OrdinalIgnoreCase);
return await SchedulerHost.RunAsync(
    () => StandaloneHost.Build([.. args.Where(a => !a.Equals("--demo", StringComparison.OrdinalIgnoreCase))]),
    async app =>
    {
        await StartupBanner.PrintAsync(app.Services);
        if (demo)
        {
            await DemoRunner.RunAsync(app.Services, app.Lifetime.ApplicationStopping);
        }
    });
