using Scheduler.Abstractions.Jobs;

namespace Scheduler.Abstractions.Tenants;

/// <summary>One per tenant: settings, quotas, admission of its jobs, and its usage.</summary>
public interface ITenantGrain : IGrainWithStringKey
{
    /// <summary>Creates or updates the tenant: only <paramref name="fields"/> change (at once, so two admins changing
    /// different settings do not undo each other); the others keep their values, the defaults on a new tenant. A key another tenant holds is refused, and then
    /// nothing changes (<see cref="PutTenantResult.KeyInUse"/>): a key names one tenant, or its jobs would be billed to
    /// another.</summary>
    Task<PutTenantResult> Put(TenantSettings settings, TenantFields fields = TenantFields.All);

    /// <summary>The tenant, or null if it was never created.</summary>
    Task<TenantInfo?> Get();

    /// <summary>Adds an API key (the caller made it and shows it once); the tenant's other keys keep working, so keys
    /// rotate without downtime. At most <see cref="MaxKeys"/> besides the configured one.</summary>
    Task<AddKeyResult> AddKey(TenantApiKey key);

    /// <summary>Keys a tenant may hold besides its configured key: enough to rotate several clients at once.</summary>
    const int MaxKeys = 16;

    /// <summary>The tenant's keys, oldest first (a key set through <see cref="Put"/> is listed as
    /// <see cref="ConfiguredKeyId"/>); null if the tenant does not exist.</summary>
    Task<TenantApiKey[]?> ListKeys();

    /// <summary>Revokes one key: it stops resolving at once (silos that cached it stop within their cache time).
    /// The revoked key, or null if the tenant has no key with that id.</summary>
    Task<TenantApiKey?> RevokeKey(string keyId);

    /// <summary>The id under which the key given to <see cref="Put"/> (or the configuration) is listed and revoked.</summary>
    const string ConfiguredKeyId = "configured";

    /// <summary>Admits a job into the tenant's queue (quotas, idempotency) and hands it to its model's placement.
    /// The caller picks <paramref name="jobId"/> so it can listen for the job's events before they can happen; with a
    /// known idempotency key the earlier job is returned instead (<see cref="SubmitResult.Duplicate"/>).</summary>
    /// <remarks>Interleaves with other calls: quota and idempotency are decided before its first await, and a
    /// busy tenant must not wait for each job's record and enqueue in turn.</remarks>
    [AlwaysInterleave]
    Task<SubmitResult> Submit(string jobId, JobRequest request, IJobEventSink[] watchers);

    /// <summary>The placement admitted these queued jobs of the tenant into running batches. May arrive after the jobs'
    /// ends, or twice: a job that is not queued any more is left as it is.</summary>
    [OneWay]
    Task OnAdmitted(string[] jobIds);

    /// <summary>Tells <paramref name="model"/>'s placement the weight in force now, dated by this grain's clock (as its
    /// tickets and puts are). A placement rebuilt after a failover asks it of every tenant whose jobs it restored: the
    /// tickets carry the weight each job was accepted with, so a weight changed since (by <see cref="Put"/>) was otherwise
    /// lost with the placement's memory until the tenant's next submission or put.</summary>
    [OneWay]
    Task TellWeight(string model);

    /// <summary>A job ended (its record holds the outcome): it leaves the queued or running jobs and its usage is
    /// counted. A repeated notice for the same job is ignored.</summary>
    [OneWay]
    Task OnFinished(string jobId, JobOutcome outcome);
}
