using Scheduler.Protos.Settings;

namespace Scheduler.Silo.Hosting;

/// <summary>Warns at start-up of every key under "Scheduler" that no setting reads (<see cref="KnownSettings"/>), with
/// the key it most likely meant. Warned, not refused: a key an older chart still sets must not stop a rolling upgrade.</summary>
internal sealed partial class UnknownSettingsReporter(
    IConfiguration configuration, KnownSettings known, ILogger<UnknownSettingsReporter> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var (key, meant) in known.Unknown(configuration.GetSection(SchedulerHost.Section).AsEnumerable()))
        {
            if (meant is null)
            {
                LogUnknown(logger, key);
            }
            else
            {
                LogUnknownMeant(logger, key, meant);
            }
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Key} is not a setting the silo reads: ignored")]
    private static partial void LogUnknown(ILogger logger, string key);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Key} is not a setting the silo reads: ignored (did you mean {Meant}?)")]
    private static partial void LogUnknownMeant(ILogger logger, string key, string meant);
}
