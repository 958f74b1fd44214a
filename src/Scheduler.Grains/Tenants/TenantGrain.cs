using Microsoft.Extensions.Logging;
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
internal sealed partial class TenantGrain(
    [PersistentState("tenant", StorageNames.Default)] IPersistentState<TenantState> state,
    OwnedStateWrites writes,
    IJobJournal journal,
    IJobIndex index,
    IIdempotencyKeys keys,
    GrainReferences references,
    IServedModels models,
    IOptions<PlacementOptions> options,
    TimeProvider time,
    ILogger<TenantGrain> logger) : Grain, ITenantGrain, IDisposable
{
    // Submissions interleave: writes of the shared state must not overlap (each carries the last ETag).
    private readonly SemaphoreSlim _writeGate = new(1, 1);

    // Keyed submissions still being decided, by idempotency key: a resubmission in that window is a duplicate too.
    private readonly Dictionary<string, Accepting> _accepting = new(StringComparer.Ordinal);

    // Whether the unfinished jobs or usage changed since the state was last written.
    private bool _changed;

    // Whether the jobs accepted before this activation that the state read did not count are counted.
    private bool _unwrittenCounted;

    // How long an activation waits to count them before it answers (then they are counted in the background): well
    // within the 30 s a call waits for its answer; a page of the index is one round trip.
    private static readonly TimeSpan UnwrittenCountBound = TimeSpan.FromSeconds(5);

    private readonly TenantRateLimits _rateLimits = new(time);

    // The usage the cluster's sum was last told (null: not yet by this activation), the version of that report, and the
    // timer that reports a change: armed only while a change waits, so an idle tenant costs no tick and no call.
    private TenantUsage? _usageReported;
    private long _usageVersion;
    private IGrainTimer? _usageReport;
    private bool _usageReportArmed;
    private IClusterUsageGrain? _clusterUsage;

    private IClusterUsageGrain ClusterUsage => _clusterUsage ??= GrainFactory.GetGrain<IClusterUsageGrain>(IClusterUsageGrain.Key);

    private string TenantId => this.GetPrimaryKeyString();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        ConfigureRateLimits();

        // Interleaved: the report waits on the cluster's sum, whose own activation reads this tenant.
        _usageReport = this.RegisterGrainTimer(ReportUsage, new GrainTimerCreationOptions(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan) { Interleave = true });

        // Once per activation: the usage read may be less than the sum was last told, when a silo died before the state's
        // write (in memory, a crash loses it all), and the sum must follow the tenant's own figures.
        if (state.State.Exists)
        {
            UsageChanged();
        }

        // A state stored before the counted submissions were kept (and read before any write of this activation, which
        // moving stored keys makes, replaces its time): the jobs accepted after its write's millisecond are missing, as
        // exactly as it can tell (one accepted in that millisecond after the write stays so).
        var s = state.State;
        s.Submissions.FromMs ??= s.WrittenAt?.ToUnixTimeMilliseconds() + 1;
        await MoveStoredKeys();

        // Only where state outlives the silo: in memory, a crash loses the state with it, and the write on
        // deactivation is all a reactivation needs.
        if (!journal.OutlivesSilo)
        {
            _unwrittenCounted = true;
            return;
        }

        var interval = options.Value.TenantStateWriteInterval;
        this.RegisterGrainTimer(WriteIfChanged, new GrainTimerCreationOptions(interval, interval));

        // Jobs stored before their acceptance times were kept are dated now, so a later activation can age them.
        _changed |= s.Jobs.DateUndated(time.GetUtcNow());

        // The state read may be older than what came after its last write (a silo killed loses up to an interval of
        // it): jobs accepted since, missing from the counts and the quota, and ends, without which a job would stay
        // counted against the quota for good. The jobs are counted before the activation answers anything — the first
        // read, or a submission's quota check, sees them — which costs one read of the index when none are missing, and
        // at most an interval of submissions' pages otherwise; bounded, so a slow Redis does not hold every call to
        // the tenant. The records of the jobs counted are asked afterwards, interleaved with calls: there may be
        // thousands.
        using (var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            bound.CancelAfter(UnwrittenCountBound);
            _unwrittenCounted = await CountAcceptedUnwritten(bound.Token);
        }

        if (!_unwrittenCounted || s.Jobs.Queued.Count + s.Jobs.Running.Count > 0)
        {
            this.RegisterGrainTimer(
                async cancellationToken =>
                {
                    // Stopped at activation: once more, interleaved with submissions (which the counted ids tell apart).
                    _unwrittenCounted = _unwrittenCounted || await CountAcceptedUnwritten(cancellationToken);
                    await EndWhatEnded(cancellationToken);
                },
                new GrainTimerCreationOptions(TimeSpan.Zero, Timeout.InfiniteTimeSpan) { Interleave = true });
        }
    }

    /// <summary>Counts the jobs the index lists for the tenant as accepted that its counts do not account for
    /// (<see cref="CountedSubmissions"/>): accepted (journaled, acknowledged) by an activation whose silo died before
    /// its next write, they are in no count, so the quota let as many more in. Each is counted as submitted and queued;
    /// <see cref="EndWhatEnded"/> then counts the ends and usage of those that ended. A job this activation accepted is
    /// accounted for already, so this may run interleaved with submissions, and again after it stopped. Returns whether
    /// it read the index to the end.</summary>
    private async Task<bool> CountAcceptedUnwritten(CancellationToken cancellationToken)
    {
        var s = state.State;
        if (s.Submissions.FromMs is not { } fromMs)
        {
            return true;
        }

        // Pages of the index, newest first; the span is an interval of submissions at most, so this ends quickly.
        const int PageSize = 256;
        var since = DateTimeOffset.FromUnixTimeMilliseconds(fromMs);
        var counted = 0;
        JobIndexCursor? after = null;
        try
        {
            while (true)
            {
                var page = await index.ReadNewestFirst(TenantId, after, since, null, PageSize).WaitAsync(cancellationToken);
                foreach (var entry in page)
                {
                    // A state stored before the counted submissions were kept holds none of their ids: its unfinished
                    // jobs, which may have been accepted after its time was taken, are told by their own sets.
                    if (!s.Submissions.Holds(entry.JobId, entry.SubmittedAt) && !s.Jobs.Queued.Contains(entry.JobId) && !s.Jobs.Running.Contains(entry.JobId))
                    {
                        Count(entry.JobId, entry.SubmittedAt);
                        counted++;
                    }
                }

                if (page.Count < PageSize)
                {
                    return true;
                }

                after = page[^1].Cursor;
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogUnwrittenCountStopped(logger, TenantId, ex.GetType().Name);
            return false;
        }
        finally
        {
            if (counted > 0)
            {
                LogAcceptedUnwritten(logger, TenantId, counted, since);
            }
        }
    }

    /// <summary>Ends every counted job whose record says it ended: its end notice was lost with an unwritten state.
    /// A notice arriving meanwhile is recognised as a repeat by <see cref="TenantJobs.End"/>. A job found nowhere —
    /// neither unfinished in the journal, where an unfinished job stays however long it waits, nor as a record — that
    /// was accepted more than the retention ago ended and its record expired (a job still being accepted is not
    /// journaled yet, but is younger than that): it is ended too, its outcome and usage unknown. A younger one stays
    /// counted.</summary>
    private async Task EndWhatEnded(CancellationToken cancellationToken)
    {
        // A few records at a time: a tenant restored with thousands of queued jobs must not flood the silo.
        const int RecordsAtOnce = 64;
        var found = 0;
        var expired = 0;
        var retention = options.Value.JobRetention;
        foreach (var jobIds in state.State.Jobs.Queued.Concat(state.State.Jobs.Running).ToArray().Chunk(RecordsAtOnce))
        {
            // Aged as of before the records are read: no job is older than it reads.
            var acceptedBy = time.GetUtcNow() - retention;
            JobSnapshot?[] records;
            try
            {
                records = await Task.WhenAll(jobIds.Select(id => references.Job(id).Get()));
            }
            catch (Exception ex) when (SiloFailures.IsTransient(ex))
            {
                // The cluster is changing: the rest stay counted until the tenant's next activation.
                LogReconcileStopped(logger, TenantId, ex.GetType().Name);
                return;
            }

            for (var i = 0; i < jobIds.Length; i++)
            {
                if (records[i] is { IsTerminal: true } record && AddEnd(record.JobId, record.Status, record.Usage))
                {
                    found++;
                }
                else if (records[i] is null && state.State.Jobs.AcceptedBy(jobIds[i], acceptedBy) && state.State.Jobs.End(jobIds[i]))
                {
                    _changed = true;
                    expired++;
                }
            }
        }

        if (found > 0)
        {
            LogLostEnds(logger, TenantId, found);
        }

        if (expired > 0)
        {
            LogExpiredEnds(logger, TenantId, expired, retention);
        }
    }

    /// <summary>Keys stored in the tenant's state by an earlier version move to <see cref="IIdempotencyKeys"/> once,
    /// each with a fresh lifetime; the state no longer holds any.</summary>
    private async Task MoveStoredKeys()
    {
        var s = state.State;
        if (s.IdempotencyKeys.Count == 0)
        {
            return;
        }

        // All at once: Redis pipelines them, so ten thousand keys cost about one round trip.
        await Task.WhenAll(s.IdempotencyKeys.Select(k =>
            keys.Bind(TenantId, k.Key, new IdempotencyBinding(k.Value, s.IdempotencyFingerprints.GetValueOrDefault(k.Key)))));

        s.IdempotencyKeys.Clear();
        s.IdempotencyOrder.Clear();
        s.IdempotencyFingerprints.Clear();
        await WriteState();
    }

    private Task WriteIfChanged(CancellationToken cancellationToken) => _changed && state.State.Exists ? WriteState() : Task.CompletedTask;

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        // Jobs' admissions and ends since the last write live only in memory: a tenant collected while idle must not
        // come back with jobs that have long finished still counted. A silo shutting down with its state in memory
        // has nowhere to write it (the storage grains are gone, and each try failed with a burst of errors). The cluster's
        // sum is told first: a change since the last report would otherwise wait for the tenant's next activation.
        if (state.State.Exists && (journal.OutlivesSilo || reason.ReasonCode != DeactivationReasonCode.ShuttingDown))
        {
            await TryReportUsage(cancellationToken);
            await WriteState();
        }
    }

    /// <summary>The usage changed: the cluster's sum is told within <see cref="PlacementOptions.TenantUsageReportInterval"/>,
    /// once for however many changes come meanwhile — not a call per job.</summary>
    private void UsageChanged()
    {
        if (!_usageReportArmed && _usageReport is { } timer)
        {
            _usageReportArmed = true;
            timer.Change(options.Value.TenantUsageReportInterval, Timeout.InfiniteTimeSpan);
        }
    }

    private async Task ReportUsage(CancellationToken cancellationToken)
    {
        // Disarmed before the call: a change while it is under way is reported next time.
        _usageReportArmed = false;
        if (!await TryReportUsage(cancellationToken))
        {
            UsageChanged();
        }
    }

    /// <summary>Tells the cluster's sum the tenant's whole usage, if it changed since the last report. Its version is this
    /// activation's clock, increasing with each report, so a later activation's reports (by a clock read after this one's
    /// last) supersede these, and a report overtaken by a later one changes nothing. Returns false if the report failed.</summary>
    private async Task<bool> TryReportUsage(CancellationToken cancellationToken)
    {
        var usage = state.State.Usage;
        if (usage == _usageReported)
        {
            return true;
        }

        _usageVersion = Math.Max(_usageVersion + 1, time.GetUtcNow().UtcTicks);
        try
        {
            await ClusterUsage.Report(TenantId, usage, _usageVersion).WaitAsync(cancellationToken);
            _usageReported = usage;
            return true;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogUsageReportFailed(logger, TenantId, ex.GetType().Name);
            return false;
        }
    }

    // Orleans disposes a grain instance once its activation has deactivated: no call is left to wait on the gate.
    public void Dispose()
    {
        _writeGate.Dispose();
        _usageReport?.Dispose();
    }

    public async Task<PutTenantResult> Put(TenantSettings settings, TenantFields fields = TenantFields.All)
    {
        if (!TenantSettings.IsValidWeight(settings.Weight))
        {
            throw new ArgumentOutOfRangeException(nameof(settings), settings.Weight, "The weight is out of range.");
        }

        var s = state.State;

        // The key is bound first, and nothing changes if another tenant holds it: the old key is revoked only once the
        // new one is this tenant's, so a refused put leaves the tenant reachable with the key it had.
        var hash = settings.ApiKey is { Length: > 0 } key ? ApiKeyHash.Of(key) : null;
        if (hash is not null && !await GrainFactory.GetGrain<IApiKeyGrain>(hash).Assign(TenantId))
        {
            return new PutTenantResult(null, KeyInUse: true);
        }

        s.Exists = true;

        // A field the put does not change keeps its value: a new tenant's state holds the defaults. The time is read with
        // the weight, as a submission reads both for its ticket, so the placements can tell which weight is the later.
        var weightChanged = fields.HasFlag(TenantFields.Weight) && settings.Weight != s.Weight;
        var weightSetAt = time.GetUtcNow();
        s.Weight = fields.HasFlag(TenantFields.Weight) ? settings.Weight : s.Weight;
        s.Quotas = new TenantQuotas(
            fields.HasFlag(TenantFields.MaxQueuedJobs) ? settings.Quotas.MaxQueuedJobs : s.Quotas.MaxQueuedJobs,
            fields.HasFlag(TenantFields.RequestsPerMinute) ? settings.Quotas.RequestsPerMinute : s.Quotas.RequestsPerMinute,
            fields.HasFlag(TenantFields.TokensPerMinute) ? settings.Quotas.TokensPerMinute : s.Quotas.TokensPerMinute);
        ConfigureRateLimits();
        if (hash is not null && s.ApiKeyHash != hash)
        {
            if (s.ApiKeyHash is { } old)
            {
                await GrainFactory.GetGrain<IApiKeyGrain>(old).Revoke(TenantId);
            }

            s.ApiKeySetAt = time.GetUtcNow();
            s.ApiKeyHash = hash;
        }

        await WriteState();

        // Every put, not only the first: a put whose silo died between the write above and this call left the tenant
        // stored but unlisted (GetTenant finds it, ListTenants does not), and its retry, finding the tenant existing,
        // must still list it. Adding a listed tenant writes nothing.
        await GrainFactory.GetGrain<ICatalogGrain>(ICatalogGrain.Key).AddTenant(TenantId);

        // The queued jobs carry the weight they were accepted with, and a placement learns of a weight only from the
        // tickets it queues: without telling them, a backlogged tenant (its new submissions perhaps refused by a quota this
        // same put lowered) was served by its old weight until its backlog ran out. Every model the scheduler serves,
        // since the tenant does not keep which models its jobs wait for; a weight change is rare and this is one call each.
        if (weightChanged)
        {
            await TellPlacementsTheWeight(s.Weight, weightSetAt);
        }

        return new PutTenantResult(Info());
    }

    // The put is stored either way: a placement not told (on a silo of the version before, in a rolling upgrade, or
    // unreachable) learns the weight from the tenant's next ticket, as every placement did before.
    private async Task TellPlacementsTheWeight(double weight, DateTimeOffset at)
    {
        try
        {
            await Task.WhenAll(models.Names.Select(m => references.Placement(m).SetTenantWeight(TenantId, weight, at)));
        }
        catch (Exception e)
        {
            LogWeightNotTold(logger, TenantId, weight, e.Message);
        }
    }

    // The time is read with the weight, in one turn: any ticket already sent carries an earlier time, and a later put a
    // later one, so the placement keeps whichever is truly the latest.
    public Task TellWeight(string model) => references.Placement(model).SetTenantWeight(TenantId, state.State.Weight, time.GetUtcNow());

    public Task<TenantInfo?> Get() => Task.FromResult(state.State.Exists ? Info() : null);

    public async Task<AddKeyResult> AddKey(TenantApiKey key)
    {
        var s = state.State;
        if (!s.Exists)
        {
            return AddKeyResult.UnknownTenant;
        }

        if (s.Keys.Count >= ITenantGrain.MaxKeys)
        {
            return AddKeyResult.TooManyKeys;
        }

        // Assigned before it is listed: a key the listing shows always works. A key is made of 240 random bits, so
        // another tenant's holding it means something is badly wrong, not bad luck.
        if (!await GrainFactory.GetGrain<IApiKeyGrain>(key.Hash).Assign(TenantId))
        {
            throw new InvalidOperationException($"A new key of tenant '{TenantId}' is already another tenant's.");
        }

        s.Keys.Add(key);
        await WriteState();
        return AddKeyResult.Added;
    }

    public Task<TenantApiKey[]?> ListKeys()
    {
        var s = state.State;
        if (!s.Exists)
        {
            return Task.FromResult<TenantApiKey[]?>(null);
        }

        var keys = s.Keys.ToList();
        if (s.ApiKeyHash is { } configured)
        {
            keys.Insert(0, new TenantApiKey(ITenantGrain.ConfiguredKeyId, "", configured, s.ApiKeySetAt ?? DateTimeOffset.MinValue));
        }

        return Task.FromResult<TenantApiKey[]?>([.. keys]);
    }

    public async Task<TenantApiKey?> RevokeKey(string keyId)
    {
        var s = state.State;
        var keys = await ListKeys();
        if (keys?.FirstOrDefault(k => k.KeyId == keyId) is not { } key)
        {
            return null;
        }

        // Unassigned before it leaves the listing: a key the listing no longer shows never works again.
        await GrainFactory.GetGrain<IApiKeyGrain>(key.Hash).Revoke(TenantId);
        if (keyId == ITenantGrain.ConfiguredKeyId)
        {
            s.ApiKeyHash = null;
            s.ApiKeySetAt = null;
        }
        else
        {
            s.Keys.RemoveAll(k => k.KeyId == keyId);
        }

        await WriteState();
        return key;
    }

    public Task<SubmitResult> Submit(string jobId, JobRequest request, IJobEventSink[] watchers)
    {
        if (!state.State.Exists)
        {
            return Task.FromResult(new SubmitResult(null, SubmitRejection.UnknownTenant, $"tenant '{TenantId}' does not exist"));
        }

        if (request.IdempotencyKey is not { Length: > 0 } key)
        {
            return Admit(jobId, request, watchers);
        }

        var fingerprint = RequestFingerprint.Of(request);
        if (_accepting.TryGetValue(key, out var first))
        {
            // A retry while the first submission with its key is still being decided here gets that decision.
            return first.Fingerprint == fingerprint ? AsDuplicate(first.Result) : Task.FromResult(KeyReused(key, first.JobId));
        }

        var accepting = SubmitKeyed(jobId, key, fingerprint, request, watchers);
        if (!accepting.IsCompleted)
        {
            // Registered before this turn ends: submissions interleave, and the next one with this key must find it.
            _accepting[key] = new Accepting(jobId, fingerprint, accepting);
            return Forget(key, accepting);
        }

        return accepting;
    }

    private async Task<SubmitResult> Forget(string key, Task<SubmitResult> accepting)
    {
        try
        {
            return await accepting;
        }
        finally
        {
            _accepting.Remove(key);
        }
    }

    private static async Task<SubmitResult> AsDuplicate(Task<SubmitResult> first)
    {
        var result = await first;
        return result.Rejection == SubmitRejection.None ? result with { Duplicate = true } : result;
    }

    private static SubmitResult KeyReused(string key, string existingId) => new(null, SubmitRejection.IdempotencyKeyReused,
        $"idempotency_key: already used for job '{existingId}' with a different request (model, prompt, max_tokens, priority, " +
        "ttft_objective_ms, stop, stop_sequences or sampling differ); resubmit that exact request to get that job, or use a new key for a new job");

    /// <summary>A submission with an idempotency key: the key is bound (durably) before the job is journaled, so a retry
    /// after any failure finds the job or, if it was never recorded, takes the key over.</summary>
    private async Task<SubmitResult> SubmitKeyed(string jobId, string key, string fingerprint, JobRequest request, IJobEventSink[] watchers)
    {
        var claimed = await keys.Claim(TenantId, key, new IdempotencyBinding(jobId, fingerprint));
        if (claimed.JobId != jobId)
        {
            if (claimed.Fingerprint is { } firstFingerprint && firstFingerprint != fingerprint)
            {
                return KeyReused(key, claimed.JobId);
            }

            var existingJob = references.Job(claimed.JobId);
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

            // The first attempt bound the key but never recorded its job (it was refused, or failed before its
            // journal entry), or the job's record is gone (the embedded default's count bound dropped it): this
            // submission takes the key over, rather than answer with a job GetJob does not find.
            await keys.Bind(TenantId, key, new IdempotencyBinding(jobId, fingerprint));
        }

        var result = await Admit(jobId, request, watchers);
        if (result.Rejection != SubmitRejection.None)
        {
            // Refused: the key names no job, and a retry is a new submission.
            await keys.Release(TenantId, key, jobId);
        }

        return result;
    }

    /// <summary>Quotas, the job's journal entry (its record until the record activates) and its place in the queue.
    /// Durable before it answers.</summary>
    private async Task<SubmitResult> Admit(string jobId, JobRequest request, IJobEventSink[] watchers)
    {
        var s = state.State;
        var maxQueued = s.Quotas.QueueBound;
        if (s.Jobs.Queued.Count >= maxQueued)
        {
            return WithHeadroom(new SubmitResult(null, SubmitRejection.QueueFull,
                $"tenant '{TenantId}' has {s.Jobs.Queued.Count} queued jobs, its max_queued_jobs quota is {maxQueued}",
                RetryAfter: options.Value.OverloadRetryAfter, Quota: "max_queued_jobs", QuotaLimit: maxQueued));
        }

        if (request.FitMaxTokens)
        {
            // A default max_tokens (the client sent none) is lowered to the quota; the idempotency key's fingerprint is of
            // the request as sent, so a retry after a quota change is still the same request.
            request = request with { MaxTokens = _rateLimits.FitOutput(request.PromptTokens, request.MaxTokens) };
        }

        var rate = _rateLimits.TryAdmit((long)request.PromptTokens + request.MaxTokens);
        if (!rate.IsAdmitted)
        {
            return WithHeadroom(new SubmitResult(null, SubmitRejection.RateLimited, $"tenant '{TenantId}': {rate.Message}", RetryAfter: rate.RetryAfter, Quota: rate.Quota, QuotaLimit: rate.Limit));
        }

        // Counts ride along with the next periodic write; the job's own record is written by its grain.
        var ticket = new JobTicket(jobId, TenantId, request, time.GetUtcNow(), watchers, s.Weight);
        Count(jobId, ticket.SubmittedAt);

        var journaled = false;
        try
        {
            // Journaled first, and indexed for listing in the same step: once the queue holds it, it may finish (and
            // leave the journal) at any moment. A listing skips an entry whose job has no record (not accepted after all).
            await journal.Accept(ticket);
            journaled = true;

            // From here the job is accepted: its journal entry is its record, which a duplicate submission may
            // already be following. A silo dying under its placement is waited out (the cluster reactivates it
            // elsewhere within seconds), so an acknowledgement always means the job is queued too.
            var queued = await SiloFailures.RetryAsync(() => Queue(ticket), time);
            return queued.Rejection == SubmitRejection.None ? WithHeadroom(queued) : queued;
        }
        catch when (!journaled)
        {
            Unaccept(ticket);
            throw;
        }
    }

    /// <summary>Counts a job accepted at <paramref name="at"/> as submitted and queued, and as accounted for.</summary>
    private void Count(string jobId, DateTimeOffset at)
    {
        var s = state.State;
        s.Jobs.Accept(jobId, at);

        // Kept only where a silo's death can lose counts for a recount to restore: in memory, where the state is written
        // only on deactivation, the ids of a busy tenant's every job would pile up for its activation's whole life.
        if (journal.OutlivesSilo)
        {
            s.Submissions.Add(jobId, at);
        }

        s.Usage = s.Usage with { JobsSubmitted = s.Usage.JobsSubmitted + 1 };
        _changed = true;
        UsageChanged();
    }

    /// <summary><paramref name="result"/> with where the tenant stands against its per-minute quotas now.</summary>
    private SubmitResult WithHeadroom(SubmitResult result) =>
        result with { Requests = Headroom(_rateLimits.Requests), Tokens = Headroom(_rateLimits.Tokens) };

    private static QuotaHeadroom? Headroom((long Limit, long Remaining, TimeSpan Reset)? quota) =>
        quota is { } q ? new QuotaHeadroom(q.Limit, q.Remaining, q.Reset) : null;

    /// <summary>A job counted as accepted that was not after all (refused by its journal or shed by its placement): its
    /// place in the quota, its count and the rate quota it took go back, so usage stays the sum of the accepted jobs'
    /// outcomes and a refusal costs the tenant nothing. It stays accounted for (<see cref="CountedSubmissions"/>): were
    /// its index entry written, a recount must not count it either.</summary>
    private void Unaccept(JobTicket ticket)
    {
        var s = state.State;
        s.Jobs.Withdraw(ticket.JobId);
        _rateLimits.Refund((long)ticket.Request.PromptTokens + ticket.Request.MaxTokens);
        s.Usage = s.Usage with { JobsSubmitted = s.Usage.JobsSubmitted - 1 };
        UsageChanged();
    }

    /// <summary>Queues the journaled job with its placement, or sees it shed. Idempotent. The journal entry is the job's
    /// record until the record first activates (<see cref="JobGrain"/>): creating the record here would put a grain
    /// activation (and, in Redis mode, a storage read and write) on every submission's path.</summary>
    private async Task<SubmitResult> Queue(JobTicket ticket)
    {
        var request = ticket.Request;
        var enqueued = await references.Placement(request.Model).Enqueue(ticket);
        if (enqueued.Shed)
        {
            // Refused: it leaves the journal, so no record will ever find it.
            await journal.Remove(request.Model, ticket.JobId);
            Unaccept(ticket);
            return new SubmitResult(null, SubmitRejection.Shed,
                $"model '{request.Model}' is overloaded: sheddable jobs are refused until its queue shrinks", RetryAfter: options.Value.OverloadRetryAfter);
        }

        return new SubmitResult(JobSnapshot.Queued(ticket), SubmitRejection.None, null, QueuePosition: enqueued.QueuePosition);
    }

    public Task OnAdmitted(string[] jobIds)
    {
        foreach (var jobId in jobIds)
        {
            state.State.Jobs.Admit(jobId);
        }

        _changed = true;

        return Task.CompletedTask;
    }

    public Task OnFinished(string jobId, JobOutcome outcome)
    {
        AddEnd(jobId, outcome.Status, outcome.Usage);
        return Task.CompletedTask;
    }

    /// <summary>Counts a job's end and usage, once. Returns false for an end already counted.</summary>
    private bool AddEnd(string jobId, JobStatus status, JobUsage? usage)
    {
        var s = state.State;
        if (!s.Jobs.End(jobId))
        {
            return false;
        }

        _changed = true;
        var u = s.Usage;
        s.Usage = u with
        {
            PromptTokens = u.PromptTokens + (usage?.PromptTokens ?? 0),
            CompletionTokens = u.CompletionTokens + (usage?.CompletionTokens ?? 0),
            CostUsd = u.CostUsd + (usage?.CostUsd ?? 0),
            JobsCompleted = u.JobsCompleted + (status == JobStatus.Completed ? 1 : 0),
            JobsFailed = u.JobsFailed + (status == JobStatus.Failed ? 1 : 0),
            JobsCancelled = u.JobsCancelled + (status == JobStatus.Cancelled ? 1 : 0),
            JobsExpired = u.JobsExpired + (status == JobStatus.Expired ? 1 : 0),
        };
        UsageChanged();
        return true;
    }

    private void ConfigureRateLimits() => _rateLimits.Configure(state.State.Quotas.RequestsPerMinute, state.State.Quotas.TokensPerMinute);

    private async Task WriteState()
    {
        await _writeGate.WaitAsync();
        try
        {
            // Cleared before the write: a change made while it is under way is written next time.
            _changed = false;
            var now = time.GetUtcNow();
            state.State.WrittenAt = now;

            // Every job accepted before now is counted — unless jobs a dead activation accepted are still to be counted,
            // whose ids are not known yet.
            if (_unwrittenCounted)
            {
                state.State.Submissions.MoveTo(now);
            }

            try
            {
                await writes.Write(state);
            }
            catch
            {
                _changed = true;
                throw;
            }
        }
        finally
        {
            _writeGate.Release();
        }
    }

    private TenantInfo Info()
    {
        var s = state.State;
        return new TenantInfo(TenantId, s.Weight, s.Quotas, s.Jobs.Queued.Count, s.Jobs.Running.Count, s.Usage);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Tenant {TenantId}: {Count} job(s) accepted from {Since:O} on were in no count (a silo stopped before the tenant's next state write); counted now")]
    private static partial void LogAcceptedUnwritten(ILogger logger, string tenantId, int count, DateTimeOffset since);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Tenant {TenantId}: counting the jobs accepted after its last state write stopped ({Error}); it is tried again in the background, and at the next activation")]
    private static partial void LogUnwrittenCountStopped(ILogger logger, string tenantId, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Tenant {TenantId}: {Count} job(s) counted as unfinished had ended (their end was not written before a silo stopped); counted now")]
    private static partial void LogLostEnds(ILogger logger, string tenantId, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Tenant {TenantId}: {Count} job(s) counted as unfinished, accepted more than {Retention} ago, are neither unfinished nor recorded: they ended and their records expired before the end was counted; no longer counted, their outcomes and usage unknown")]
    private static partial void LogExpiredEnds(ILogger logger, string tenantId, int count, TimeSpan retention);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Tenant {TenantId}: its new weight {Weight} is stored, but not every model's placement could be told ({Error}); its jobs queued there are served by the old weight until its next submission")]
    private static partial void LogWeightNotTold(ILogger logger, string tenantId, double weight, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Tenant {TenantId}: reporting its usage to the cluster's sum failed ({Error}); it is reported again within the report interval")]
    private static partial void LogUsageReportFailed(ILogger logger, string tenantId, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Tenant {TenantId}: checking its unfinished jobs' records stopped ({Error}); the rest are checked at its next activation")]
    private static partial void LogReconcileStopped(ILogger logger, string tenantId, string error);

    /// <summary>A keyed submission still being decided: the job it would create and the request it was made with.</summary>
    private sealed record Accepting(string JobId, string Fingerprint, Task<SubmitResult> Result);
}
