using Scheduler.Policies.Admission;
using Scheduler.Policies.Prefix;
using Scheduler.Policies.Profiles;

namespace Scheduler.Policies.Placement;

/// <summary>
/// The scheduler's view of one model replica's running batch: what it admitted and has not seen finish.
/// Owned by one placement (grain or simulator); policies read it, the owner mutates it through
/// <see cref="Admit"/> and <see cref="Release"/> so reservations can never drift. Once in a <see cref="ReplicaSet"/>,
/// every change refiles it there, so the set's index never lags behind the view. It also keeps an approximate index of
/// the prompt blocks it sent the replica, a <see cref="PrefixBlockCache"/> sized as the engine's is (the KV room its
/// reservations leave free, plus the running prompts' own blocks, which they hold anyway): a job's prefill, and so its
/// predicted first token and cost, counts only the blocks not found. A rate-limited replica (a metered endpoint's
/// requests and tokens per minute) also keeps a mirror of the engine's <see cref="UpstreamLimiter"/>, charged with every
/// job admitted here, so a prediction can count the wait the engine's limiter will impose (<see cref="RateLimitWaitMs"/>).
/// </summary>
/// <param name="replicaId">The replica.</param>
/// <param name="nodeId">Its worker node.</param>
/// <param name="acceleratorId">Its accelerator.</param>
/// <param name="profile">Its accelerator profile.</param>
/// <param name="maxSequences">Its sequence slots (with the admissions its node holds ahead).</param>
/// <param name="kvCapacityTokens">Its KV cache, in tokens.</param>
/// <param name="rateLimits">The mirror of the replica's rate limits; null when it has none.</param>
/// <param name="maxContextTokens">The most tokens one sequence may hold there (a llama.cpp replica's context per slot);
/// 0 when only the KV cache bounds it.</param>
/// <param name="acceptedForms">The prompt forms its engine takes (a chat-only endpoint: text and messages).</param>
public sealed class ReplicaView(string replicaId, string nodeId, string acceleratorId, AcceleratorProfile profile, int maxSequences, long kvCapacityTokens,
    UpstreamLimiter? rateLimits = null, int maxContextTokens = 0, PromptForms acceptedForms = PromptForms.All)
{
    private readonly Dictionary<string, Reservation> _reservations = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (int Running, double FairFinish)> _byTenant = new(StringComparer.Ordinal);

    // The admitted jobs whose prefill is pending, in the engine's prefill order (PrefillOrder): ascending fair rank,
    // equal ranks in admission order.
    private readonly List<PendingPrompt> _pending = [];
    private PrefixBlockCache? _prefixes;
    private long _runningBlockTokens;
    private bool _schedulable = true;
    private string? _setAsideFor;

    public string ReplicaId { get; } = replicaId;
    public string NodeId { get; } = nodeId;
    public string AcceleratorId { get; } = acceleratorId;
    public AcceleratorProfile Profile { get; } = profile;
    public int MaxSequences { get; } = maxSequences;
    public long KvCapacityTokens { get; } = kvCapacityTokens;

    /// <summary>True for a replica with requests- or tokens-per-minute limits: its predictions depend on its own
    /// admissions of the last minute, not only on its class and running count.</summary>
    public bool RateLimited => rateLimits is not null;

    /// <summary>The replica's limits and, by this placement's count, the requests and tokens they allow sent now
    /// (negative while what it sent still owes); all 0 without limits. For operators (AdminService).</summary>
    public (int RequestsPerMinute, int TokensPerMinute, double RequestsAvailable, double TokensAvailable) RateLimits
    {
        get
        {
            if (rateLimits is null)
            {
                return default;
            }

            var (requests, tokens) = rateLimits.Available();
            return (rateLimits.RequestsPerMinute, rateLimits.TokensPerMinute, requests, tokens);
        }
    }

    /// <summary>How long the replica's rate limits would hold <paramref name="job"/> if it were admitted now, by this
    /// placement's count of what it sent there (its prompt and max tokens each, as the engine reserves them; the engine
    /// refunds what a job did not use and this count does not, so it errs towards a longer wait). 0 without limits.</summary>
    public double RateLimitWaitMs(JobDemand job) =>
        rateLimits is null ? 0 : rateLimits.WaitFor(LimitedTokens(job)).TotalMilliseconds;

    // What a job counts against a tokens-per-minute limit: prompt plus max tokens, as the engine reserves.
    private static int LimitedTokens(JobDemand job) => (int)Math.Min(int.MaxValue, job.KvTokens);

    /// <summary>False while the accelerator is cordoned, draining or lost, or the node is not connected.</summary>
    public bool Schedulable
    {
        get => _schedulable;
        set
        {
            _schedulable = value;
            Entry?.Refile();
        }
    }

    /// <summary>The queued job this replica is set aside for, or null: a job of a higher class that had room nowhere, so
    /// that jobs of lower classes do not take the room its running sequences free, one by one, for ever (strict priority
    /// between classes; the dispatcher sets it aside and releases it). A replica set aside takes no other job.</summary>
    public string? SetAsideFor
    {
        get => _setAsideFor;
        internal set
        {
            _setAsideFor = value;
            Entry?.Refile();
        }
    }

    /// <summary>Prompt tokens of the contexts of the sessions whose last job was placed here recently
    /// (<c>Dispatch.SessionAffinity</c>): what their next turns expect to find in its prefix cache.</summary>
    public long LiveSessionTokens { get; internal set; }

    public int RunningSequences => _reservations.Count;
    public long ReservedKvTokens { get; private set; }
    public int FreeSlots => MaxSequences - RunningSequences;
    public long FreeKvTokens => KvCapacityTokens - ReservedKvTokens;

    /// <summary>The most tokens (prompt and max tokens) one job may take here: the KV cache, or less where the replica
    /// says so — the context of one sequence (a llama.cpp replica splits its context among its slots), or a metered
    /// endpoint's tokens per minute. The engine refuses a job over it, however long it waited, so such a job must go
    /// elsewhere.</summary>
    public long MaxJobTokens { get; } = Math.Min(
        Math.Min(kvCapacityTokens, maxContextTokens > 0 ? maxContextTokens : long.MaxValue),
        rateLimits?.MaxTokensPerRequest is { } perRequest ? perRequest : long.MaxValue);

    /// <summary>The room a job may take now: the free KV cache, within <see cref="MaxJobTokens"/>. What the placement's
    /// index files the replica by.</summary>
    public long AdmissibleKvTokens => Math.Min(FreeKvTokens, MaxJobTokens);

    /// <summary>The prompt forms its engine takes: a job in none of them can never run here.</summary>
    public PromptForms AcceptedForms { get; } = acceptedForms;

    /// <summary>Whether the job could ever run here, once the running sequences are gone: its prompt in a form the engine
    /// takes, its tokens within <see cref="MaxJobTokens"/>.</summary>
    public bool CanEverHold(JobDemand job) => Takes(job.Form) && job.KvTokens <= MaxJobTokens;

    /// <summary>Whether the engine takes a prompt in one of <paramref name="forms"/>.</summary>
    public bool Takes(PromptForms forms) => (AcceptedForms & forms) != 0;

    /// <summary>Prompt tokens admitted whose prefill has not been reported done: they delay the next job's first token.</summary>
    public long PendingPrefillTokens { get; private set; }

    public long Admissions { get; private set; }

    /// <summary>Admissions that joined a batch which already had running sequences.</summary>
    public long AdmissionsIntoRunningBatch { get; private set; }

    public IReadOnlyCollection<string> RunningJobIds => _reservations.Keys;

    /// <summary>Prompt tokens of <paramref name="job"/> this replica is expected to hold in its prefix cache.</summary>
    public int CachedPromptTokens(JobDemand job) =>
        job.Blocks is { } blocks && _prefixes is { } prefixes ? blocks.CachedTokens(prefixes.Match(blocks), job.PromptTokens) : 0;

    /// <summary>Prompt blocks the index holds, for SREs and tests.</summary>
    public int CachedBlocks => _prefixes?.BlockCount ?? 0;

    /// <summary>True when the job fits in the free slots and free KV cache right now.</summary>
    public bool Fits(JobDemand job) => FreeSlots > 0 && AdmissibleKvTokens >= job.KvTokens && Takes(job.Form);

    /// <summary>Reserves a slot and the job's KV tokens; <paramref name="fairRank"/> is the rank it was admitted at and
    /// <paramref name="fairFinish"/> the rank its tenant's next job here starts from (see <see cref="FairFinishOf"/>).
    /// Returns the number of sequences that were already running.</summary>
    public int Admit(JobDemand job, double fairRank = 0, double fairFinish = 0)
    {
        if (!Fits(job))
        {
            throw new InvalidOperationException($"Replica {ReplicaId} has no room for job {job.JobId}.");
        }

        var runningBefore = RunningSequences;
        rateLimits?.Reserve(LimitedTokens(job));
        // Only the prompt's uncached tokens are prefilled, so only they are pending.
        var prefill = job.PromptTokens - RememberPrompt(job);
        var blockTokens = job.Blocks is { } blocks ? (long)blocks.Count * blocks.BlockTokens : 0;
        _reservations.Add(job.JobId, new Reservation(job, blockTokens, Admissions, Prefilled: false));
        _byTenant[job.TenantId] = (RunningOf(job.TenantId) + 1, Math.Max(fairFinish, FairFinishOf(job.TenantId)));
        ReservedKvTokens += job.KvTokens;
        _runningBlockTokens += blockTokens;
        _prefixes?.Resize(PrefixBudget);
        PendingPrefillTokens += prefill;
        _pending.Insert(PrefillOrder.InsertionIndex(_pending, fairRank, p => p.Rank), new PendingPrompt(job.JobId, fairRank, prefill));
        Admissions++;
        if (runningBefore > 0)
        {
            AdmissionsIntoRunningBatch++;
        }

        Entry?.Refile();
        return runningBefore;
    }

    /// <summary>Marks a job's prefill as done (its first token was seen), and its prompt's blocks as cached here from now
    /// on; a job not pending here changes nothing.</summary>
    public void PrefillDone(string jobId)
    {
        if (RemovePending(jobId) is { } rank)
        {
            var reservation = _reservations[jobId];
            _reservations[jobId] = reservation with { Prefilled = true };
            StorePrompt(reservation.Job);
            PrefilledRank = Math.Max(PrefilledRank, rank);
            Entry?.Refile();
        }
    }

    /// <summary>Drops from the prefix index the prompt blocks the replica's engine reported evicted (its step report), in
    /// the order it evicted them: the index mirrors the engine's eviction rule from the reservations it knows, and these
    /// correct it wherever the engine's cache held less than the mirror thought (an engine keeping less KV for its cache,
    /// or evicting by its own rule). Returns how many the index still held.</summary>
    public int ForgetPrefixBlocks(ReadOnlySpan<ulong> evicted)
    {
        var forgotten = 0;
        if (_prefixes is { } prefixes)
        {
            foreach (var hash in evicted)
            {
                forgotten += prefixes.Forget(hash) ? 1 : 0;
            }
        }

        PrefixBlocksForgotten += forgotten;
        return forgotten;
    }

    /// <summary>Blocks the index held that the engine reported evicted (<see cref="ForgetPrefixBlocks"/>): how often
    /// its mirror of the engine's cache was behind.</summary>
    public long PrefixBlocksForgotten { get; private set; }

    /// <summary>Drops the whole prefix index: the replica is reached over a new stream, to an engine that may have started
    /// afresh, with an empty cache.</summary>
    public void ForgetPrefixes() => _prefixes?.Clear();

    /// <summary>Pending prompt tokens the engine prefills before a job admitted now at <paramref name="fairRank"/>:
    /// those of jobs admitted at a rank not above it (<see cref="PrefillOrder"/>). A job admitted later at a lower
    /// rank still overtakes it, which no prediction made now can know.</summary>
    public long PendingPrefillUpTo(double fairRank)
    {
        if (_pending.Count == 0 || _pending[^1].Rank <= fairRank)
        {
            return PendingPrefillTokens;
        }

        // Mostly asked for a low rank (a light tenant's): the prefix below it is short.
        long tokens = 0;
        for (var i = 0; i < _pending.Count && _pending[i].Rank <= fairRank; i++)
        {
            tokens += _pending[i].Tokens;
        }

        return tokens;
    }

    /// <summary>Frees the job's slot and KV reservation. Returns false if the job was not running here.</summary>
    public bool Release(string jobId)
    {
        if (!_reservations.Remove(jobId, out var reservation))
        {
            return false;
        }

        ReservedKvTokens -= reservation.Job.KvTokens;
        _runningBlockTokens -= reservation.BlockTokens;
        _prefixes?.Resize(PrefixBudget);
        RemovePending(jobId);
        var tenantId = reservation.Job.TenantId;
        if (_byTenant.TryGetValue(tenantId, out var tenant) && tenant.Running > 1)
        {
            _byTenant[tenantId] = tenant with { Running = tenant.Running - 1 };
        }
        else
        {
            _byTenant.Remove(tenantId);
        }

        Entry?.Refile();
        return true;
    }

    public bool IsRunning(string jobId) => _reservations.ContainsKey(jobId);

    /// <summary>The tenants with sequences running here.</summary>
    public IEnumerable<string> Tenants => _byTenant.Keys;

    /// <summary>The jobs running here as they were admitted, for choosing one to stop (<c>Preemption</c>).</summary>
    internal IEnumerable<Reservation> Reservations => _reservations.Values;

    /// <summary>Sequences of <paramref name="tenantId"/> running here.</summary>
    public int RunningOf(string tenantId) => _byTenant.GetValueOrDefault(tenantId).Running;

    /// <summary>Where the fair rank of <paramref name="tenantId"/>'s next job here starts at the earliest: the finish
    /// of the last one admitted (its rank plus its prompt per unit of weight) while any of them runs; 0 when none runs.</summary>
    public double FairFinishOf(string tenantId) => _byTenant.GetValueOrDefault(tenantId).FairFinish;

    /// <summary>True when a prompt pending here is ranked above <see cref="PrefilledRank"/>: a backlogged tenant's,
    /// which a job admitted now may overtake. Otherwise every pending prompt is prefilled before any new job's.</summary>
    public bool PrefillReordered => _pending.Count > 0 && _pending[^1].Rank > PrefilledRank;

    /// <summary>The highest fair rank whose prefill completed here: the replica's virtual time, which no new job ranks
    /// below (<c>FairRank</c>), so a job waiting with a high rank is overtaken only for a bounded time.</summary>
    public double PrefilledRank { get; private set; }

    // The removed prompt's rank, or null when the job had none pending here.
    private double? RemovePending(string jobId)
    {
        for (var i = 0; i < _pending.Count; i++)
        {
            if (_pending[i].JobId == jobId)
            {
                var removed = _pending[i];
                PendingPrefillTokens -= removed.Tokens;
                _pending.RemoveAt(i);
                return removed.Rank;
            }
        }

        return null;
    }

    /// <summary>Its place in the <see cref="ReplicaSet"/> that holds it; null while in none.</summary>
    internal ReplicaEntry? Entry { get; set; }

    // Touches the job's cached blocks, as the engine does when it takes the job; returns the tokens found cached. The
    // rest are stored once the job's prefill is done (StorePrompt), as the engine stores them: a job admitted before
    // then finds none of them, however many jobs with the same prompt are admitted. Storing them at admission made a
    // hot prefix look cached on a replica whose engine had not computed it yet, so the pending prefill the index saw
    // there was a sixth of the engine's (issue 14, sixth round: the shared system prompts at three times their rate).
    private int RememberPrompt(JobDemand job)
    {
        if (job.Blocks is not { } blocks)
        {
            return 0;
        }

        _prefixes ??= new PrefixBlockCache(PrefixBudget, root => Entry?.Owner.PrefixHolders.Remove(root, this));
        return blocks.CachedTokens(_prefixes.Touch(blocks), job.PromptTokens);
    }

    // Stores a prefilled job's prompt blocks; a prompt newly held here is listed with the set, so a policy finds this
    // replica among its prefix's holders.
    private void StorePrompt(JobDemand job)
    {
        if (job.Blocks is not { } blocks || _prefixes is null)
        {
            return;
        }

        if (_prefixes.Store(blocks))
        {
            Entry?.Owner.PrefixHolders.Add(blocks.Root, this);
        }
    }

    // What the engine's cache may hold: free KV, plus the blocks of running prompts, which sit in their reservations.
    private long PrefixBudget => FreeKvTokens + _runningBlockTokens;

    /// <summary>A running job: what it reserved, the number of admissions here before it (later admitted, less
    /// progress lost when stopped), and whether its first token was seen.</summary>
    internal readonly record struct Reservation(JobDemand Job, long BlockTokens, long Order, bool Prefilled);
}

/// <summary>An admitted job's prompt whose prefill is not reported done, at the fair rank it was admitted at.</summary>
internal readonly record struct PendingPrompt(string JobId, double Rank, int Tokens);
