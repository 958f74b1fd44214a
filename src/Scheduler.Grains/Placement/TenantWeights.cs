using System.Runtime.InteropServices;

namespace Scheduler.Grains.Placement;

/// <summary>
/// When the weight a placement's fair queue gives each tenant was set, on the tenant grain's clock. A weight reaches a
/// placement two ways — on every job's ticket, as it was when the job was accepted, and from <c>PutTenant</c> when an
/// admin changes it — and they arrive in any order: a job accepted before the change may be queued (or handed back and
/// queued again, or restored after a failover) after it. So an older weight must never replace a newer one; without
/// this a backlogged tenant kept the weight its queued jobs were accepted with until it submitted again, and a
/// hand-back set an old weight back.
/// </summary>
internal sealed class TenantWeights
{
    private readonly Dictionary<string, DateTimeOffset> _setAt = new(StringComparer.Ordinal);

    /// <summary>Whether a weight of <paramref name="tenantId"/> set at <paramref name="at"/> is the latest heard of (then
    /// it is recorded as such, and the caller puts it in force); false when one set later is already in force.</summary>
    public bool IsLatest(string tenantId, DateTimeOffset at)
    {
        // One lookup: every job queued asks, so this is on the submission path.
        ref var latest = ref CollectionsMarshal.GetValueRefOrAddDefault(_setAt, tenantId, out var known);
        if (known && at < latest)
        {
            return false;
        }

        latest = at;
        return true;
    }
}
