using Microsoft.Extensions.Options;
using Scheduler.Abstractions.Catalog;
using Scheduler.Abstractions.Jobs;
using Scheduler.Abstractions.Placement;
using Scheduler.Abstractions.Tenants;
using Scheduler.Grains.Jobs;
using Scheduler.Policies;
using Scheduler.Policies.Admission;

namespace Scheduler.Grains.Tenants;

/// <summary>A tenant's queue admission, quotas, idempotency keys and usage. Admission checks, in order: idempotency
/// (a duplicate costs nothing; a key reused for another request is refused), max queued jobs, requests/min and
/// tokens/min (token buckets on the injected clock, in memory: a reactivated tenant starts with full buckets), then
/// the model's overload shedding for sheddable jobs. Every refusal a tenant may retry carries a retry hint. Queued and
/// running counts are the tenant's unfinished jobs by id (<see cref="TenantJobs"/>).</summary>
internal sealed class TenantGrain(
    [PersistentState("tenant", StorageNames.Default)] IPersistentState<TenantState> state,
    IJobJournal journal,
    IJobIndex index,
    IOptions<PlacementOptions> options,
    TimeProvider time) : Grain, ITenantGrain, IDisposable
{
    // Submissions interleave: writes of the shared state must not overlap (each carries the last ETag).
    private readonly SemaphoreSlim _writeGate = new(1, 1);

    // Jobs accepted but not yet handed to their placement, by id: a resubmission in that window is a duplicate too.
    private readonly Dictionary<string, JobTicket> _accepting = new(StringComparer.Ordinal);

    private readonly TenantRateLimits _rateLimits = new(time);

    private string TenantId => this.GetPrimaryKeyString();

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        ConfigureRateLimits();
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        // Jobs' admissions and ends since the last write live only in memory: a tenant collected while idle must not
        // come back with jobs that have long finished still counted. A silo shutting down with its state in memory
        // has nowhere to write it (the storage grains are gone, and each try failed with a burst of errors).
        if (state.State.Exists && (journal.OutlivesSilo || reason.ReasonCode != DeactivationReasonCode.ShuttingDown))
        {
            await WriteState();
        }
    }

    // Orleans disposes a grain instance once its activation has deactivated: no call is left to wait on the gate.
    public void Dispose() => _writeGate.Dispose();

    public async Task<TenantInfo> Put(TenantSettings settings)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(settings.Weight, 0);
        var s = state.State;
        var isNew = !s.Exists;
        s.Exists = true;
        s.Weight = settings.Weight;
        s.Quotas = settings.Quotas;
        ConfigureRateLimits();
        if (settings.ApiKey is { Length: > 0 } key)
        {
            var hash = ApiKeyHash.Of(key);
            if (s.ApiKeyHash is { } old && old != hash)
            {
                await GrainFactory.GetGrain<IApiKeyGrain>(old).Revoke(TenantId);
            }

            await GrainFactory.GetGrain<IApiKeyGrain>(hash).Assign(TenantId);
            s.ApiKeyHash = hash;
        }

        await WriteState();
        if (isNew)
        {
            await GrainFactory.GetGrain<ICatalogGrain>(ICatalogGrain.Key).AddTenant(TenantId);
        }

        return Info();
    }

    public Task<TenantInfo?> Get() => Task.FromResult(state.State.Exists ? Info() : null);

    public async Task<SubmitResult> Submit(string jobId, JobRequest request, IJobEventSink[] watchers)
    {
        var s = state.State;
        if (!s.Exists)
        {
            return new SubmitResult(null, SubmitRejection.UnknownTenant, $"tenant '{TenantId}' does not exist");
        }

        var fingerprint = request.IdempotencyKey is { Length: > 0 } ? RequestFingerprint.Of(request) : null;
        if (request.IdempotencyKey is { Length: > 0 } idemKey && s.IdempotencyKeys.TryGetValue(idemKey, out var existingId))
        {
            if (s.IdempotencyFingerprints.TryGetValue(idemKey, out var first) && first != fingerprint)
            {
                return new SubmitResult(null, SubmitRejection.IdempotencyKeyReused,
                    $"idempotency_key: already used for job '{existingId}' with a different request (model, prompt, max_tokens, priority, " +
                    "ttft_objective_ms, stop, stop_sequences or sampling differ); resubmit that exact request to get that job, or use a new key for a new job");
            }

            if (_accepting.TryGetValue(existingId, out var accepting))
            {
                return new SubmitResult(JobSnapshot.Queued(accepting), SubmitRejection.None, null, Duplicate: true);
            }

            var existingJob = GrainFactory.GetGrain<IJobGrain>(existingId);
            // A miss is asked twice: the first may have reached an activation that raced a failover (see JobGrain.Get).
            var existing = await existingJob.Get() ?? await existingJob.Get();
            if (existing is not null)
            {
                if (existing.Status == JobStatus.Queued)
                {
                    // The first attempt may have failed half-way (its placement's silo died under it): make sure
                    // the job is journaled and queued. Both are idempotent, so this costs a retry nothing else.
                    await existingJob.EnsureQueued();
                }

                // The caller attaches its watcher itself (WatchJob semantics): a duplicate may already be done.
                return new SubmitResult(existing, SubmitRejection.None, null, Duplicate: true);
            }
        }

        var maxQueued = s.Quotas.MaxQueuedJobs > 0 ? s.Quotas.MaxQueuedJobs : TenantQuotas.Default.MaxQueuedJobs;
        if (s.Jobs.Queued.Count >= maxQueued)
        {
            return new SubmitResult(null, SubmitRejection.QueueFull,
                $"tenant '{TenantId}' has {s.Jobs.Queued.Count} queued jobs, its max_queued_jobs quota is {maxQueued}", RetryAfter: options.Value.OverloadRetryAfter);
        }

        var rate = _rateLimits.TryAdmit((long)request.PromptTokens + request.MaxTokens);
        if (!rate.IsAdmitted)
        {
            return new SubmitResult(null, SubmitRejection.RateLimited, $"tenant '{TenantId}': {rate.Message}", RetryAfter: rate.RetryAfter);
        }

        var ticket = new JobTicket(jobId, TenantId, request, time.GetUtcNow(), watchers, s.Weight);
        s.Jobs.Accept(jobId);
        s.Usage = s.Usage with { JobsSubmitted = s.Usage.JobsSubmitted + 1 };

        // A new idempotency key is persisted before the job is acknowledged: it must outlive this activation.
        // Counts alone ride along with the next write; the job's own record is written by its grain.
        var persist = RememberIdempotencyKey(request.IdempotencyKey, fingerprint, ticket.JobId);

        _accepting[ticket.JobId] = ticket;
        var journaled = false;
        try
        {
            if (persist)
            {
                await WriteState();
            }

            // Journaled first: once the queue holds it, it may finish (and leave the journal) at any moment. Indexed
            // for listing at the same time; a listing skips an entry whose job has no record (not accepted after all).
            await Task.WhenAll(journal.Add(ticket), index.Add(JobIndexEntry.Of(ticket, JobStatus.Queued)));
            journaled = true;

            // From here the job is accepted. A silo dying under its record or its queue is waited out (the cluster
            // reactivates them elsewhere within seconds), so an acknowledgement always means both exist — a duplicate
            // submission may already be following the job.
            return await SiloFailures.RetryAsync(() => RecordAndQueue(ticket), time);
        }
        catch when (!journaled)
        {
            // Not accepted after all: give its place in the quota back.
            s.Jobs.Withdraw(jobId);
            throw;
        }
        finally
        {
            _accepting.Remove(ticket.JobId);
        }
    }

    /// <summary>Creates the journaled job's record and queues it with its placement (or sees it shed). Idempotent.</summary>
    private async Task<SubmitResult> RecordAndQueue(JobTicket ticket)
    {
        var s = state.State;
        var request = ticket.Request;
        var job = GrainFactory.GetGrain<IJobGrain>(ticket.JobId);
        var placement = GrainFactory.GetGrain<IPlacementGrain>(request.Model);
        EnqueueResult enqueued;
        if (request.Priority == JobPriority.Sheddable)
        {
            // The placement may shed it: ask first, so a refused job leaves no record behind.
            enqueued = await placement.Enqueue(ticket);
            if (enqueued.Shed)
            {
                await journal.Remove(request.Model, ticket.JobId);
                s.Jobs.Withdraw(ticket.JobId);
                s.Usage = s.Usage with { JobsSubmitted = s.Usage.JobsSubmitted - 1 };
                return new SubmitResult(null, SubmitRejection.Shed,
                    $"model '{request.Model}' is overloaded: sheddable jobs are refused until its queue shrinks", RetryAfter: options.Value.OverloadRetryAfter);
            }

            await job.Create(ticket);
        }
        else
        {
            // The record and the queue entry are made together; the job grain accepts them in either order.
            var created = job.Create(ticket);
            enqueued = await placement.Enqueue(ticket);
            await created;
        }

        return new SubmitResult(JobSnapshot.Queued(ticket), SubmitRejection.None, null, QueuePosition: enqueued.QueuePosition);
    }

    public Task OnAdmitted(string[] jobIds)
    {
        foreach (var jobId in jobIds)
        {
            state.State.Jobs.Admit(jobId);
        }

        return Task.CompletedTask;
    }

    public Task OnFinished(string jobId, JobOutcome outcome)
    {
        var s = state.State;
        if (!s.Jobs.End(jobId))
        {
            return Task.CompletedTask;
        }

        var u = s.Usage;
        s.Usage = u with
        {
            PromptTokens = u.PromptTokens + outcome.Usage.PromptTokens,
            CompletionTokens = u.CompletionTokens + outcome.Usage.CompletionTokens,
            CostUsd = u.CostUsd + outcome.Usage.CostUsd,
            JobsCompleted = u.JobsCompleted + (outcome.Status == JobStatus.Completed ? 1 : 0),
            JobsFailed = u.JobsFailed + (outcome.Status == JobStatus.Failed ? 1 : 0),
            JobsCancelled = u.JobsCancelled + (outcome.Status == JobStatus.Cancelled ? 1 : 0),
            JobsExpired = u.JobsExpired + (outcome.Status == JobStatus.Expired ? 1 : 0),
        };
        return Task.CompletedTask;
    }

    private void ConfigureRateLimits() => _rateLimits.Configure(state.State.Quotas.RequestsPerMinute, state.State.Quotas.TokensPerMinute);

    private async Task WriteState()
    {
        await _writeGate.WaitAsync();
        try
        {
            await state.WriteStateAsync();
        }
        finally
        {
            _writeGate.Release();
        }
    }

    private bool RememberIdempotencyKey(string? key, string? fingerprint, string jobId)
    {
        if (key is not { Length: > 0 } || fingerprint is null)
        {
            return false;
        }

        var s = state.State;
        s.IdempotencyKeys[key] = jobId;
        s.IdempotencyFingerprints[key] = fingerprint;
        s.IdempotencyOrder.Enqueue(key);
        while (s.IdempotencyOrder.Count > options.Value.IdempotencyKeysPerTenant)
        {
            var oldest = s.IdempotencyOrder.Dequeue();
            s.IdempotencyKeys.Remove(oldest);
            s.IdempotencyFingerprints.Remove(oldest);
        }

        return true;
    }

    private TenantInfo Info()
    {
        var s = state.State;
        return new TenantInfo(TenantId, s.Weight, s.Quotas, s.Jobs.Queued.Count, s.Jobs.Running.Count, s.Usage);
    }
}
