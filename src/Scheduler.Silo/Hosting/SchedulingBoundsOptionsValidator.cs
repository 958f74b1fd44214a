using Microsoft.Extensions.Options;
using Scheduler.Grains;

namespace Scheduler.Silo.Hosting;

/// <summary>
/// Refuses, at start-up, the scheduling clocks and counts no silo can run with, naming the setting, where they were
/// taken as given: a heartbeat interval of zero asks every node to heartbeat in a loop; a lease no longer than the
/// interval has nodes lost between two heartbeats; a rejection hold of zero sends a job an engine refused straight back
/// to it; a negative count or duration means nothing the documentation defines.
/// </summary>
internal sealed class SchedulingBoundsOptionsValidator : IValidateOptions<PlacementOptions>
{
    /// <summary>The longest a clock below may be set to: longer is a unit mistake (seconds meant as minutes), not a choice.</summary>
    public static readonly TimeSpan MaxInterval = TimeSpan.FromHours(1);

    public ValidateOptionsResult Validate(string? name, PlacementOptions options)
    {
        var failure =
            Positive(nameof(options.HeartbeatInterval), options.HeartbeatInterval)
            ?? (options.NodeLease <= options.HeartbeatInterval || options.NodeLease > MaxInterval
                ? $"{PlacementOptions.Section}:NodeLease must be longer than {PlacementOptions.Section}:HeartbeatInterval ({options.HeartbeatInterval}), so a node heartbeats within its lease, and at most {MaxInterval}; it is {options.NodeLease}"
                : null)
            ?? Positive(nameof(options.RejectionHold), options.RejectionHold)
            ?? Positive(nameof(options.OverloadRetryAfter), options.OverloadRetryAfter)
            ?? Positive(nameof(options.TenantStateWriteInterval), options.TenantStateWriteInterval)
            ?? Positive(nameof(options.TenantUsageReportInterval), options.TenantUsageReportInterval)
            ?? FromZero(nameof(options.ContendedPrefillWindow), options.ContendedPrefillWindow, "0")
            ?? FromZero(nameof(options.SetAsideWithinClassAfter), options.SetAsideWithinClassAfter, "0 (never)")
            ?? AtLeast(nameof(options.MaxHandBacks), options.MaxHandBacks, 0)
            ?? AtLeast(nameof(options.MaxPreemptions), options.MaxPreemptions, 0)
            ?? AtLeast(nameof(options.MaxDecodeDeferrals), options.MaxDecodeDeferrals, 0)
            ?? AtLeast(nameof(options.ContendedPrefillTokens), options.ContendedPrefillTokens, 0)
            ?? AtLeast(nameof(options.OverloadQueueLength), options.OverloadQueueLength, 0)
            ?? AtLeast(nameof(options.IdempotencyKeysPerTenant), options.IdempotencyKeysPerTenant, 1);
        return failure is null ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failure);
    }

    private static string? Positive(string setting, TimeSpan value) =>
        value <= TimeSpan.Zero || value > MaxInterval
            ? $"{PlacementOptions.Section}:{setting} must be positive and at most {MaxInterval}; it is {value}"
            : null;

    private static string? FromZero(string setting, TimeSpan value, string zero) =>
        value < TimeSpan.Zero || value > MaxInterval
            ? $"{PlacementOptions.Section}:{setting} must be from {zero} to {MaxInterval}; it is {value}"
            : null;

    private static string? AtLeast(string setting, int value, int least) =>
        value < least ? $"{PlacementOptions.Section}:{setting} must be at least {least}; it is {value}" : null;
}
