using Scheduler.Grains;

namespace Scheduler.Silo.Hosting;

/// <summary>
/// Scheduler:Scheduling:JobListRetention, what <see cref="PlacementOptions.JobRetention"/> was called while it governed
/// only the listing (until 2026-12-06): still read where JobRetention is not set, so a deployment that set it keeps its
/// retention across the upgrade, and warned of at start-up either way.
/// </summary>
internal sealed partial class JobListRetentionAlias(IConfiguration configuration, ILogger<JobListRetentionAlias> logger) : IHostedService
{
    private const string OldKey = $"{PlacementOptions.Section}:{nameof(PlacementOptions.JobListRetention)}";
    private const string NewKey = $"{PlacementOptions.Section}:{nameof(PlacementOptions.JobRetention)}";

    /// <summary>Takes the old key's value as the retention where only the old key is set in <paramref name="section"/>.</summary>
    public static void Apply(IConfiguration section, PlacementOptions options)
    {
        if (options.JobListRetention is { } retention && section[nameof(PlacementOptions.JobRetention)] is null)
        {
            options.JobRetention = retention;
        }
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (configuration[OldKey] is not null)
        {
            if (configuration[NewKey] is null)
            {
                LogRenamed(logger, OldKey, NewKey);
            }
            else
            {
                LogIgnored(logger, OldKey, NewKey);
            }
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "{OldKey} is deprecated: read as {NewKey}, which now also bounds how long a finished job's record is kept; rename it")]
    private static partial void LogRenamed(ILogger logger, string oldKey, string newKey);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{OldKey} is deprecated and ignored: {NewKey} is set; remove it")]
    private static partial void LogIgnored(ILogger logger, string oldKey, string newKey);
}
