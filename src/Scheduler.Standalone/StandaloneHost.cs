using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.FileProviders;
using Scheduler.Silo.Hosting;

namespace Scheduler.Standalone;

/// <summary>
/// Builds the scheduler in one process: a silo (<see cref="SchedulerHost"/>) and the embedded simulated fleet.
/// Settings, later ones winning: the silo's appsettings.json, this project's (compiled in: the embedded fleet),
/// environment variables, the command line.
/// </summary>
internal static class StandaloneHost
{
    private const string SettingsFile = "appsettings.json";

    /// <summary>Builds (does not start) the standalone scheduler; <paramref name="configure"/> may change the
    /// configuration sources first.</summary>
    public static WebApplication Build(string[] args, Action<IConfigurationBuilder>? configure = null)
    {
        var builder = SchedulerHost.CreateBuilder(args, configuration =>
        {
            AddStandaloneSettings(configuration);
            configure?.Invoke(configuration);
        });
        builder.Services.AddEmbeddedFleet(builder.Configuration.GetSection(EmbeddedFleetOptions.Section));
        return SchedulerHost.MapEndpoints(builder.Build());
    }

    /// <summary>Lays this project's settings right over the silo's appsettings.json, so that environment variables
    /// and the command line still override them (e.g. --Scheduler:EmbeddedFleet:SpeedUp=instant).</summary>
    private static void AddStandaloneSettings(IConfigurationBuilder configuration)
    {
        var sources = configuration.Sources;
        var silo = sources.OfType<JsonConfigurationSource>().First(s => s.Path == SettingsFile);
        sources.Insert(sources.IndexOf(silo) + 1, new JsonConfigurationSource
        {
            FileProvider = new EmbeddedFileProvider(typeof(StandaloneHost).Assembly),
            Path = SettingsFile,
        });
    }
}
