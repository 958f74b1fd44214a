using Scheduler.Standalone;

// "--demo" is ours, not a configuration key: take it out before the configuration reads the arguments.
var demo = args.Contains("--demo", StringComparer.OrdinalIgnoreCase);
var app = StandaloneHost.Build([.. args.Where(a => !a.Equals("--demo", StringComparison.OrdinalIgnoreCase))]);
await app.StartAsync();
await StartupBanner.PrintAsync(app.Services);
if (demo)
{
    await DemoRunner.RunAsync(app.Services, app.Lifetime.ApplicationStopping);
}

await app.WaitForShutdownAsync();
