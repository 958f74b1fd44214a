using Microsoft.Extensions.Options;
using Scheduler.Grains;

namespace Scheduler.Silo.Hosting;

/// <summary>Refuses, at start-up, capacity settings the policy cannot size with: found at the first snapshot instead,
/// every placement snapshot (the gauges, the admin API's listings) would fail.</summary>
internal sealed class CapacityOptionsValidator : IValidateOptions<PlacementOptions>
{
    private const string Prefix = PlacementOptions.Section + ":Capacity:";

    public ValidateOptionsResult Validate(string? name, PlacementOptions options)
    {
        var c = options.Capacity;
        List<string> failures = [];
        if (c.Window <= TimeSpan.Zero)
        {
            failures.Add($"{Prefix}Window must be positive; it is {c.Window}");
        }

        if (c.ColdStart < TimeSpan.Zero)
        {
            failures.Add($"{Prefix}ColdStart must not be negative; it is {c.ColdStart}");
        }

        if (c.MaxReplicasPerPool < 1)
        {
            failures.Add($"{Prefix}MaxReplicasPerPool must be at least 1; it is {c.MaxReplicasPerPool}");
        }

        if (!(c.TargetUtilisation is > 0 and <= 1))
        {
            failures.Add($"{Prefix}TargetUtilisation must be in (0, 1]; it is {c.TargetUtilisation}");
        }

        if (c.PeakLookback < TimeSpan.Zero)
        {
            failures.Add($"{Prefix}PeakLookback must not be negative; it is {c.PeakLookback}");
        }

        if (!(c.BurstUtilisation is > 0 and <= 1))
        {
            failures.Add($"{Prefix}BurstUtilisation must be in (0, 1]; it is {c.BurstUtilisation}");
        }

        if (c.WarmFloor < 0)
        {
            failures.Add($"{Prefix}WarmFloor must not be negative; it is {c.WarmFloor}");
        }

        if (!(c.AttainmentObjective is >= 0 and <= 1))
        {
            failures.Add($"{Prefix}AttainmentObjective must be in [0, 1]; it is {c.AttainmentObjective}");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
