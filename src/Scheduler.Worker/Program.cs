using Microsoft.AspNetCore.Connections;
using Scheduler.Protos.Settings;
using Scheduler.Worker.Hosting;

namespace Scheduler.Worker;

/// <summary>The worker node as its own process. Settings, later ones winning: the defaults in the embedded
/// appsettings.json, an appsettings.json in the working directory, environment variables
/// (e.g. <c>Worker__SchedulerAddress</c>), the command line (e.g. <c>--Worker:Accelerators:0:Product=H100</c>). The standard OTEL_* variables switch on metric and span export over OTLP.</summary>
internal static class Program
{
    /// <summary>The exit code of a worker that could not start serving (a port another process holds), as a silo's.</summary>
    private const int StartFailedExitCode = 1;

    public static async Task<int> Main(string[] args)
    {
        using var defaults = typeof(Program).Assembly.GetManifestResourceStream("Scheduler.Worker.appsettings.json")
            ?? throw new InvalidOperationException("The embedded default settings are missing.");
        var configuration = new ConfigurationBuilder()
            .AddJsonStream(defaults)
            .AddJsonFile(Path.Combine(Directory.GetCurrentDirectory(), "appsettings.json"), optional: true)
            .AddEnvironmentVariables()
            .AddCommandLine(args)
            .Build();
        // Checked before binding: a value that does not convert aborted the binder, or inside a list item
        // (Worker:Accelerators:0:Count=abc) made it drop the accelerator without a word.
        var known = new KnownSettings([(WorkerNodeOptions.SectionName, typeof(WorkerNodeOptions))]);
        var worker = configuration.GetSection(WorkerNodeOptions.SectionName).AsEnumerable().ToList();
        if (known.Unconvertible(worker) is { } unconvertible)
        {
            await Console.Error.WriteLineAsync(unconvertible);
            return 2;
        }

        foreach (var (key, meant) in known.Unknown(worker))
        {
            await Console.Error.WriteLineAsync(
                $"warning: {key} is not a setting the worker reads: ignored{(meant is null ? "" : $" (did you mean {meant}?)")}");
        }

        var options = new WorkerNodeOptions();
        configuration.GetSection(WorkerNodeOptions.SectionName).Bind(options);

        WebApplication app;
        try
        {
            app = WorkerNodeHost.Build(options, logging => logging
                .AddConfiguration(configuration.GetSection("Logging"))
                .AddSimpleConsole(console => console.SingleLine = true), configuration);
        }
        catch (ArgumentException ex)
        {
            // A settings mistake deserves its message, not a stack trace.
            await Console.Error.WriteLineAsync(SettingMessages.Of(ex));
            return 2;
        }

        await using (app)
        {
            try
            {
                await app.StartAsync();
            }
            catch (IOException ex) when (ex.InnerException is AddressInUseException)
            {
                // Kestrel's bind failure, unhandled, aborted the process (exit 134) after a page of stack trace.
                await Console.Error.WriteLineAsync(
                    $"worker failed to start: {ex.Message} Another process holds Worker:Port ({options.Port}) or Worker:HealthPort ({options.HealthPort}).");
                return StartFailedExitCode;
            }

            await app.WaitForShutdownAsync();
        }

        return 0;
    }
}
