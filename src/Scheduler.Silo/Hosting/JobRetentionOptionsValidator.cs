using Microsoft.Extensions.Options;
using Scheduler.Grains;

namespace Scheduler.Silo.Hosting;

/// <summary>Refuses, at start-up, a job-list retention storage cannot keep: every accepted job is indexed with it, so
/// found at the first submission instead, every submission would fail (in Redis mode the index entry's expiry must
/// be a positive number of milliseconds).</summary>
internal sealed class JobRetentionOptionsValidator : IValidateOptions<PlacementOptions>
{
    /// <summary>The longest retention taken: ten years.</summary>
    public static readonly TimeSpan MaxRetention = TimeSpan.FromDays(3_650);

    public ValidateOptionsResult Validate(string? name, PlacementOptions options) =>
        options.JobListRetention > TimeSpan.Zero && options.JobListRetention <= MaxRetention
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(
                $"{PlacementOptions.Section}:JobListRetention must be positive and at most {MaxRetention.TotalDays:0} days; it is {options.JobListRetention}");
}
