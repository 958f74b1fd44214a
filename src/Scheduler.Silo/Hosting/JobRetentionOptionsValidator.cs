using Microsoft.Extensions.Options;
using Scheduler.Grains;

namespace Scheduler.Silo.Hosting;

/// <summary>Refuses, at start-up, how long jobs are kept where storage cannot keep it, rather than at the first
/// submission or end: every accepted job is indexed with the retention and every settled record written with it (in
/// Redis mode an expiry must be a positive number of milliseconds), every keyed submission binds its key for the key's
/// lifetime, and the count bound sizes the embedded default's memory. A key must not outlive its job's record: a retry
/// with it would then name a job GetJob no longer finds (docs/operations.md, "How long jobs are kept"); a lifetime
/// left at its default follows a shorter retention (<see cref="JobRetentionSettings"/>), so only one set is refused.</summary>
internal sealed class JobRetentionOptionsValidator : IValidateOptions<PlacementOptions>
{
    /// <summary>The longest retention taken: ten years.</summary>
    public static readonly TimeSpan MaxRetention = TimeSpan.FromDays(3_650);

    /// <summary>The most settled records the silo's memory may be told to keep: about 28 GB of them at 2.8 KB each.</summary>
    public const int MaxSettledJobsInMemory = 10_000_000;

    public ValidateOptionsResult Validate(string? name, PlacementOptions options)
    {
        var section = PlacementOptions.Section;
        if (options.JobRetention <= TimeSpan.Zero || options.JobRetention > MaxRetention)
        {
            return ValidateOptionsResult.Fail(
                $"{section}:JobRetention (formerly JobListRetention) must be positive and at most {MaxRetention.TotalDays:0} days; it is {options.JobRetention}");
        }

        if (options.MaxSettledJobsInMemory is <= 0 or > MaxSettledJobsInMemory)
        {
            return ValidateOptionsResult.Fail(
                $"{section}:MaxSettledJobsInMemory must be from 1 to {MaxSettledJobsInMemory}; it is {options.MaxSettledJobsInMemory}");
        }

        if (options.IdempotencyKeyLifetime <= TimeSpan.Zero || options.IdempotencyKeyLifetime > options.JobRetention)
        {
            return ValidateOptionsResult.Fail(
                $"{section}:IdempotencyKeyLifetime must be positive and at most {section}:JobRetention ({options.JobRetention}), " +
                $"so a key never names a job whose record is gone; it is {options.IdempotencyKeyLifetime}");
        }

        return ValidateOptionsResult.Success;
    }
}
