namespace Scheduler.Silo.Api;

/// <summary>The admin actions the audit log records, by the names it records them under; a listing's filter must name
/// one of them, or a prefix of some ending in "." — a misspelt filter would otherwise answer an empty log, which reads
/// as "nobody did that".</summary>
internal static class AuditActions
{
    public const string TenantPut = "tenant.put";
    public const string ApiKeyCreate = "apikey.create";
    public const string ApiKeyRevoke = "apikey.revoke";
    public const string AcceleratorCordon = "accelerator.cordon";
    public const string AcceleratorUncordon = "accelerator.uncordon";
    public const string NodeForget = "node.forget";

    public static readonly string[] All = [TenantPut, ApiKeyCreate, ApiKeyRevoke, AcceleratorCordon, AcceleratorUncordon, NodeForget];

    /// <summary>Checks a listing's <c>action</c> filter: empty (every action), an action, or a prefix ending in ".".</summary>
    public static void RequireFilter(string action)
    {
        if (action.Length == 0 || All.Any(a => action.EndsWith('.') ? a.StartsWith(action, StringComparison.Ordinal) : a == action))
        {
            return;
        }

        var prefixes = All.Select(a => a[..(a.IndexOf('.') + 1)]).Distinct();
        throw SchedulerErrors.InvalidArgument("action",
            $"'{SchedulerErrors.Echo(action)}' is no audited action: use one of {string.Join(", ", All)}, or a prefix ending in '.' ({string.Join(", ", prefixes)})");
    }
}
