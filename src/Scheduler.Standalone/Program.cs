using Microsoft.Extensions.Options;
using Scheduler.Standalone;

// "--demo" is ours, not a configuration key: take it out before the configuration reads the arguments.
var demo = args.Contains("--demo", StringComparer.OrdinalIgnoreCase);
await using var app = StandaloneHost.Build([.. args.Where(a => !a.Equals("--demo", StringComparison.OrdinalIgnoreCase))]);
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

await StartupBanner.PrintAsync(app.Services);
if (demo)
{
    await DemoRunner.RunAsync(app.Services, app.Lifetime.ApplicationStopping);
}

await app.WaitForShutdownAsync();
return 0;
