using System.Runtime.InteropServices;
using Scheduler.Policies.Admission;
using Scheduler.Policies.Placement;
using Scheduler.Policies.Prefix;
using Scheduler.Policies.Profiles;

namespace Scheduler.Simulator.Engine;

/// <summary>
/// A simulated replica that steps exactly as the worker's SimulatedEngine does (the shared <see cref="StepPlan"/>):
/// a step is planned and applied when it starts, and its tokens count when it ends. Sequences admitted while a
/// step runs join the next one. A metered endpoint with request and token limits holds each admitted sequence until
/// its <see cref="UpstreamLimiter"/> reservation comes due, as the worker's upstream engine does. Its prefix cache
/// works as the SimulatedEngine's: a sequence prefills only what its leading blocks found cached leave, and its blocks
/// are stored once prefilled, within the KV room not reserved plus the running prompts' own blocks (or the share of it
/// <see cref="EngineCacheModel"/> says), and what it evicts is reported with the step, for the view's index to forget.
/// As the SimulatedEngine, a step's prefill runs in micro-batches of <paramref name="microBatchTokens"/> prompt tokens
/// (0: one call): prefill past the first is applied when the step ends, as far as it ran, and a sequence admitted during
/// the step, ranked ahead of that prefill, ends the step early (<see cref="StepPlan.YieldAfter"/>, <see cref="StepEndMs"/>).
/// </summary>
internal sealed class SimReplica(ReplicaView view, EngineCacheModel cacheModel, UpstreamLimiter? limiter = null, int microBatchTokens = 0)
{
    // In prefill order (PrefillOrder), as the worker's engines keep their batches.
    private readonly List<SimSequence> _batch = [];
    private readonly List<SimSequence> _firstTokens = [];
    private readonly List<SimSequence> _finished = [];
    private readonly PrefixBlockCache _prefixes = new(cacheModel.Budget(view.KvCapacityTokens), recordEvictions: cacheModel.Events);
    private readonly List<ulong> _evicted = [];
    private readonly PrefillContention _contention = new();
    private long _reservedKv;
    private long _runningBlockTokens;

    // The step being planned starts at _stepStartMs; the delegate is made once, not per step.
    private double _stepStartMs;
    private Func<SimSequence, bool>? _readyAtStepStart;

    // The step under way: its plan, the micro-batches it runs (fewer once an admission ended it early), and the prefill
    // planned past its first micro-batch, applied when it ends as far as it ran.
    private readonly List<(SimSequence Sequence, int Offset, int Tokens)> _later = [];
    private StepPlan _plan;
    private int _microBatches;

    /// <summary>When the step under way ends: as planned, or earlier once an admission ended it early.</summary>
    public double StepEndMs { get; private set; }

    /// <summary>The simulation's id of the event that ends the step under way (an earlier one is stale).</summary>
    public long StepEvent { get; set; }

    public ReplicaView View { get; } = view;

    /// <summary>How many of <paramref name="blocks"/>' leading blocks the replica's cache holds now.</summary>
    public int CachedBlocks(PromptBlocks blocks) => _prefixes.Match(blocks);

    /// <summary>How many of <paramref name="blocks"/>' leading blocks a sequence of the batch is still prefilling: in no
    /// cache yet, they will be in this one once its prefill ends.</summary>
    public int PrefillingBlocks(PromptBlocks blocks)
    {
        var most = 0;
        foreach (var sequence in _batch)
        {
            if (!sequence.Prefilled && sequence.Request.Blocks is { } theirs)
            {
                most = Math.Max(most, blocks.SharedLeadingBlocks(theirs));
            }
        }

        return most;
    }

    public AcceleratorProfile Profile => View.Profile;
    public bool Stepping { get; private set; }
    public bool HasWork => _batch.Count > 0;

    /// <summary>The earliest time a sequence in the batch may start (+∞ when the batch is empty).</summary>
    public double NextReadyMs => _batch.Count == 0 ? double.PositiveInfinity : _batch.Min(s => s.ReadyMs);

    /// <summary>When a wake-up to start held sequences is already scheduled (+∞ when none is).</summary>
    public double WakeAtMs { get; set; } = double.PositiveInfinity;
    public double BusyMs { get; private set; }
    public double EnergyJoules { get; private set; }
    public double HourlyCostUsd { get; private set; }
    public double MeteredCostUsd { get; private set; }
    public long Steps { get; private set; }

    // A static replica is provisioned from the start of time; an autoscaled one from when it was asked for.
    private double _provisionedSinceMs = double.NegativeInfinity;
    private double _provisionedMs;

    /// <summary>True while the replica is paid for (starting, serving or draining).</summary>
    public bool Provisioned => !double.IsNaN(_provisionedSinceMs);

    /// <summary>True while it takes no new work and is released once its batch is empty.</summary>
    public bool Draining { get; set; }

    /// <summary>Marks the replica as not provisioned (an autoscaled pool's, before the pool asks for it).</summary>
    public void Unprovision() => _provisionedSinceMs = double.NaN;

    /// <summary>When an autoscaled replica finishes its cold start and may take work.</summary>
    public double ReadyAtMs { get; private set; }

    /// <summary>Starts paying for the replica (an autoscaled pool asked for it at <paramref name="nowMs"/>); it may
    /// take work from <paramref name="readyAtMs"/>.</summary>
    public void Provision(double nowMs, double readyAtMs)
    {
        _provisionedSinceMs = nowMs;
        ReadyAtMs = readyAtMs;
    }

    /// <summary>True when it is paid for, not draining and past its cold start: it may take work.</summary>
    public bool ReadyAt(double nowMs) => Provisioned && !Draining && nowMs >= ReadyAtMs;

    /// <summary>Stops paying for it (it was released at <paramref name="nowMs"/>).</summary>
    public void Release(double nowMs)
    {
        _provisionedMs += nowMs - _provisionedSinceMs;
        _provisionedSinceMs = double.NaN;
        Draining = false;
    }

    /// <summary>Seconds the replica was paid for within [<paramref name="startMs"/>, <paramref name="endMs"/>].</summary>
    public double ProvisionedSeconds(double startMs, double endMs) =>
        (_provisionedMs + (Provisioned ? Math.Max(0, endMs - Math.Max(_provisionedSinceMs, startMs)) : 0)) / 1000;
    public long TokensOut { get; private set; }

    /// <summary>True when the replica could ever take <paramref name="tokens"/> (prompt plus output): its KV cache and,
    /// for a metered endpoint, its tokens per minute are large enough.</summary>
    public bool CanEverHold(long tokens) => tokens <= View.KvCapacityTokens && !OverTokenLimit(tokens);

    /// <summary>Joins the running batch from the next step on, or once the endpoint's rate limits let it start. False
    /// when a metered endpoint could never send it (more tokens than a minute's worth): the caller fails the job.</summary>
    public bool Admit(SimSequence sequence, double nowMs)
    {
        if (OverTokenLimit(sequence.Tokens))
        {
            return false;
        }

        var wait = limiter?.Reserve((int)sequence.Tokens) ?? TimeSpan.Zero;
        sequence.ReadyMs = nowMs + wait.TotalMilliseconds;
        if (Profile.IsMetered)
        {
            // A metered endpoint is the worker's upstream engine, which forwards each sequence and steps nothing of its
            // own: it never defers a decode nor caps a prefill (StepPlan), so neither does its model here.
            sequence.DecodeDeferrals = 0;
            sequence.ContendedPrefillTokens = 0;
        }

        if (sequence.Request.Blocks is { } blocks)
        {
            sequence.CachedPromptTokens = blocks.CachedTokens(_prefixes.Touch(blocks), sequence.Request.PromptTokens);
            sequence.PrefillRemaining -= sequence.CachedPromptTokens;
        }

        _batch.Insert(PrefillOrder.InsertionIndex(_batch, sequence.FairRank, s => s.FairRank), sequence);
        Reserve(sequence, 1);
        if (Stepping && _later.Count > 0 && sequence.ReadyMs <= nowMs
            && _plan.YieldAfter(nowMs - _stepStartMs, sequence.FairRank) is var after && after < _microBatches)
        {
            _microBatches = after;
            StepEndMs = _stepStartMs + _plan.MicroBatchesEndMs(after);
        }

        return true;
    }

    /// <summary>Stops a sequence to make room for another, as the worker's engine does on a preemption (the same as a
    /// cancel: its slot and KV are free at once; the tokens of a step under way still count when it ends). Null when
    /// it is not in the batch or finishes with the step under way, which the engine would report finished instead.</summary>
    public SimSequence? Preempt(string jobId, double nowMs)
    {
        var sequence = _batch.Find(s => s.Request.Id == jobId);
        if (sequence is null || _finished.Contains(sequence))
        {
            return null;
        }

        _batch.Remove(sequence);
        Reserve(sequence, -1);
        _later.RemoveAll(l => l.Sequence == sequence);
        if (sequence.ReadyMs <= nowMs)
        {
            // A metered endpoint bills what it was sent and what it generated since.
            MeteredCostUsd += Profile.MeteredCostUsd(sequence.Demand.PromptTokens, sequence.Generated - sequence.DeliveredBeforeResume);
        }

        Preempted++;
        return sequence;
    }

    /// <summary>Sequences stopped here to make room for others.</summary>
    public long Preempted { get; private set; }

    /// <summary>True when a sequence in the batch may run at <paramref name="nowMs"/>.</summary>
    public bool HasReadyWork(double nowMs) => NextReadyMs <= nowMs;

    /// <summary>Plans and applies one step over the sequences ready at <paramref name="nowMs"/> (prefill past its first
    /// micro-batch only when it ends); returns its duration. The engine's loop body, without the wait.</summary>
    public double StartStep(double nowMs)
    {
        _stepStartMs = nowMs;
        var plan = StepPlan.ForBatch(Profile, _batch, _contention, nowMs, _readyAtStepStart ??= s => s.ReadyMs <= _stepStartMs,
            microBatchTokens: Profile.IsMetered ? 0 : microBatchTokens);
        foreach (var sequence in _batch)
        {
            if (sequence.ReadyMs > nowMs)
            {
                continue;
            }

            if (StepPlan.Decodes(sequence))
            {
                Emit(sequence);
            }
            else if (!sequence.Prefilled)
            {
                var offset = plan.PrefillTokens;
                var chunk = plan.TakePrefill(sequence);
                var first = plan.ChunkDoneAfter(offset, chunk, 1);
                ApplyPrefill(sequence, first);
                if (chunk > first)
                {
                    _later.Add((sequence, offset + first, chunk - first));
                }
            }
        }

        foreach (var done in _finished)
        {
            _batch.Remove(done);
            Reserve(done, -1);
        }

        _plan = plan;
        _microBatches = plan.MicroBatches;
        StepEndMs = nowMs + plan.DurationMs;
        Stepping = true;
        Steps++;
        return plan.DurationMs;
    }

    // Prefills tokens of the sequence's prompt; the step that completes it stores its blocks and yields its first token.
    private void ApplyPrefill(SimSequence sequence, int tokens)
    {
        sequence.PrefillRemaining -= tokens;
        if (sequence.Prefilled)
        {
            _prefixes.Store(sequence.Request.Blocks);
            Emit(sequence);
        }
    }

    private void Emit(SimSequence sequence)
    {
        TokensOut++;
        if (sequence.Generated++ == 0)
        {
            _firstTokens.Add(sequence);
        }

        if (sequence.Generated >= sequence.Request.OutputTokens)
        {
            _finished.Add(sequence);
        }
    }

    /// <summary>Ends the running step at <paramref name="nowMs"/>: reports first tokens and finished sequences to the
    /// scheduler's view, as the node's step report does, and adds the finished sequences to <paramref name="finishedOut"/>.
    /// True when there was such news (the placement grain runs an admission round only then).</summary>
    public bool EndStep(double nowMs, List<SimSequence> finishedOut)
    {
        Stepping = false;
        if (_later.Count > 0)
        {
            var finishedBefore = _finished.Count;
            foreach (var (sequence, offset, tokens) in _later)
            {
                ApplyPrefill(sequence, _plan.ChunkDoneAfter(offset, tokens, _microBatches));
            }

            for (var i = finishedBefore; i < _finished.Count; i++)
            {
                _batch.Remove(_finished[i]);
                Reserve(_finished[i], -1);
            }

            _later.Clear();
        }

        // What the step ran: the whole plan, or up to where an admission ended it.
        var ms = _plan.MicroBatchesEndMs(_microBatches);
        BusyMs += ms;
        EnergyJoules += Profile.PowerWatts * ms / 1000.0;
        HourlyCostUsd += Profile.HourlyCostUsd(ms / 1000.0);

        var news = _firstTokens.Count > 0 || _finished.Count > 0;
        foreach (var sequence in _firstTokens)
        {
            sequence.FirstTokenMs = nowMs;
            View.PrefillDone(sequence.Request.Id);
        }

        // As the node's report: evictions since the last one (none unless the engines report them), after the prefills
        // whose prompts the engine stored first.
        _prefixes.TakeEvicted(_evicted);
        View.ForgetPrefixBlocks(CollectionsMarshal.AsSpan(_evicted));
        _evicted.Clear();

        foreach (var sequence in _finished)
        {
            sequence.FinishedMs = nowMs;
            // What this run was sent (a resumed sequence's prompt carries the tokens it delivered before) and generated.
            MeteredCostUsd += Profile.MeteredCostUsd(sequence.Demand.PromptTokens, sequence.Demand.MaxTokens);
            View.Release(sequence.Request.Id);
            finishedOut.Add(sequence);
        }

        _firstTokens.Clear();
        _finished.Clear();
        return news;
    }

    /// <summary>Prompt tokens the replica's prefix cache spared, over the sequences it finished.</summary>
    public long CachedPromptTokens { get; private set; }

    // Takes (sign 1) or frees (−1) the sequence's KV reservation and resizes the prefix cache to what is left.
    private void Reserve(SimSequence sequence, int sign)
    {
        _reservedKv += sign * sequence.Tokens;
        _runningBlockTokens += sign * (sequence.Request.Blocks is { } b ? (long)b.Count * b.BlockTokens : 0);
        if (sign < 0)
        {
            CachedPromptTokens += sequence.CachedPromptTokens;
        }

        _prefixes.Resize(cacheModel.Budget(View.KvCapacityTokens - _reservedKv + _runningBlockTokens));
    }

    private bool OverTokenLimit(long tokens) => limiter?.MaxTokensPerRequest is { } max && tokens > max;
}
