using Scheduler.Abstractions.Tenants;

namespace Scheduler.Grains.Tenants;

/// <summary>Each tenant's latest cumulative usage, and their sum (<see cref="ClusterUsageGrain"/>'s state). A report
/// replaces the tenant's usage held only when its version is newer, so a repeated or overtaken report changes nothing,
/// and the sum is exactly the sum of the usages held whatever order the reports came in: the counts are integers, and
/// the cost is summed in <see cref="decimal"/>, where adding a tenant's new cost and taking away its old one is exact
/// (a <see cref="double"/> sum kept by adding and subtracting drifts with every report).</summary>
internal sealed class UsageLedger
{
    // A usage read from its tenant rather than reported: older than any report (versions are ticks of a clock).
    private const long ReadVersion = 0;

    private readonly Dictionary<string, (TenantUsage Usage, long Version)> _tenants = new(StringComparer.Ordinal);

    private long _promptTokens, _completionTokens, _jobsSubmitted, _jobsCompleted, _jobsFailed, _jobsCancelled, _jobsExpired;
    private decimal _costUsd;

    /// <summary>The sum of every tenant's usage held.</summary>
    public TenantUsage Total => new(
        _promptTokens, _completionTokens, (double)_costUsd, _jobsSubmitted, _jobsCompleted, _jobsFailed, _jobsCancelled, _jobsExpired);

    /// <summary>How many tenants' usage is held.</summary>
    public int Tenants => _tenants.Count;

    /// <summary><paramref name="tenantId"/> reported <paramref name="usage"/> as of <paramref name="version"/>. Returns
    /// whether it replaced what was held (false for a report as old as, or older than, the one held).</summary>
    public bool Report(string tenantId, TenantUsage usage, long version)
    {
        if (_tenants.TryGetValue(tenantId, out var held))
        {
            if (held.Version >= version)
            {
                return false;
            }

            Add(held.Usage, -1);
        }

        Add(usage, 1);
        _tenants[tenantId] = (usage, version);
        return true;
    }

    /// <summary><paramref name="tenantId"/>'s usage as read from the tenant (after this ledger's activation lost what it
    /// held): taken only when the tenant has not reported since, since a read carries no version. Returns whether it was
    /// taken.</summary>
    public bool Read(string tenantId, TenantUsage usage) =>
        !_tenants.ContainsKey(tenantId) && usage != TenantUsage.Empty && Report(tenantId, usage, ReadVersion);

    private void Add(TenantUsage u, int sign)
    {
        _promptTokens += sign * u.PromptTokens;
        _completionTokens += sign * u.CompletionTokens;
        _costUsd += sign * (decimal)u.CostUsd;
        _jobsSubmitted += sign * u.JobsSubmitted;
        _jobsCompleted += sign * u.JobsCompleted;
        _jobsFailed += sign * u.JobsFailed;
        _jobsCancelled += sign * u.JobsCancelled;
        _jobsExpired += sign * u.JobsExpired;
    }
}
