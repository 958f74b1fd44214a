using Microsoft.Extensions.Options;
using Scheduler.Grains;
using Scheduler.Policies;

namespace Scheduler.Silo.Hosting;

/// <summary>Refuses, at start-up, a placement, fairness or batching policy name no policy has: found when a model's
/// placement activates instead, the silo reported ready while every submission and node registration failed with
/// INTERNAL (found by an operator probe with `PlacementPolicy=cheapest`).</summary>
internal sealed class PolicyNamesOptionsValidator : IValidateOptions<PlacementOptions>
{
    public ValidateOptionsResult Validate(string? name, PlacementOptions options)
    {
        var failures = new List<string>();
        Check(failures, "PlacementPolicy", options.PlacementPolicy, SchedulingPolicies.PlacementNames);
        Check(failures, "FairnessPolicy", options.FairnessPolicy, SchedulingPolicies.FairnessNames);
        Check(failures, "BatchingPolicy", options.BatchingPolicy, SchedulingPolicies.BatchingNames);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void Check(List<string> failures, string key, string value, IReadOnlyCollection<string> known)
    {
        if (!known.Contains(value))
        {
            failures.Add($"{PlacementOptions.Section}:{key} must be one of {string.Join(", ", known)}; it is '{value}'");
        }
    }
}
