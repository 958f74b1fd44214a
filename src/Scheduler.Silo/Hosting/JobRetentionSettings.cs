using Scheduler.Grains;

namespace Scheduler.Silo.Hosting;

/// <summary>
/// What the retention's settings mean where they are not all set: Scheduler:Scheduling:JobListRetention, what
/// <see cref="PlacementOptions.JobRetention"/> was called while it governed only the listing (until 2026-12-06), is
/// still read where JobRetention is not set, so a deployment that set it keeps its retention across the upgrade (and is
/// warned of at start-up either way); and an idempotency key's lifetime left at its default (24 h) is shortened to a
/// shorter retention, so shortening the retention alone is enough (a key must not outlive its job's record:
/// <see cref="JobRetentionOptionsValidator"/> refuses a longer lifetime set explicitly).
/// </summary>
internal sealed partial class JobRetentionSettings(IConfiguration configuration, ILogger<JobRetentionSettings> logger) : IHostedService
{
    private const string OldKey = $"{PlacementOptions.Section}:{nameof(PlacementOptions.JobListRetention)}";
    private const string NewKey = $"{PlacementOptions.Section}:{nameof(PlacementOptions.JobRetention)}";

    /// <summary>Applies both rules to <paramref name="options"/>, bound from <paramref name="section"/>.</summary>
    public static void Apply(IConfiguration section, PlacementOptions options)
    {
        if (options.JobListRetention is { } retention && section[nameof(PlacementOptions.JobRetention)] is null)
        {
            options.JobRetention = retention;
        }

        if (section[nameof(PlacementOptions.IdempotencyKeyLifetime)] is null && options.IdempotencyKeyLifetime > options.JobRetention)
        {
            options.IdempotencyKeyLifetime = options.JobRetention;
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
