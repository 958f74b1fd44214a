using Microsoft.Extensions.Options;
using Scheduler.Grains;
using Scheduler.Policies.Placement;

namespace Scheduler.Silo.Hosting;

/// <summary>Refuses, at start-up, a price of waiting (a job's, or a session's turn's) the cost-aware policy cannot take (negative, not a number, or above
/// <see cref="PlacementSettings.MaxWaitCostUsdPerSecond"/>, most likely a value meant per hour or in cents): found when a
/// model's placement activates instead, no job of any model would be placed.</summary>
internal sealed class WaitCostOptionsValidator : IValidateOptions<PlacementOptions>
{
    public ValidateOptionsResult Validate(string? name, PlacementOptions options) =>
        !PlacementSettings.TakesWaitCost(options.WaitCostUsdPerSecond)
            ? ValidateOptionsResult.Fail(
                $"{PlacementOptions.Section}:WaitCostUsdPerSecond must be from 0 to {PlacementSettings.MaxWaitCostUsdPerSecond} (US dollars per second of a job's wait for its first token); it is {options.WaitCostUsdPerSecond}")
            : !PlacementSettings.TakesWaitCost(options.SessionWaitCostUsdPerSecond)
                ? ValidateOptionsResult.Fail(
                    $"{PlacementOptions.Section}:SessionWaitCostUsdPerSecond must be from 0 to {PlacementSettings.MaxWaitCostUsdPerSecond} (US dollars per second of a session's turn's wait for its first token); it is {options.SessionWaitCostUsdPerSecond}")
                : ValidateOptionsResult.Success;
}
