namespace Scheduler.Policies.Profiles;

/// <summary>
/// The step model of a simulated replica, shared by the worker's simulated engine and the simulator so both
/// "hardware" behave alike: a step decodes one token for every prefilled sequence, and prefills prompt chunks
/// (in <see cref="PrefillOrder"/>) within what the profile's per-step token budget leaves; it lasts
/// <see cref="AcceleratorProfile.StepMs"/> of those two amounts. The llama.cpp engine fills its decode batch with it.
/// While the replica is contended (<see cref="PrefillContention"/>: a light prompt is pending or likely), sequences with
/// a contended prefill cap (a tenant over its share) together prefill at most that many tokens a step
/// (<see cref="TakePrefill{T}"/>).
/// <para>The step's prefill runs as micro-batches of <see cref="MicroBatchTokens"/> prompt tokens (the decodes run with
/// the first), as llama.cpp splits a batch into <c>n_ubatch</c> calls: a prompt admitted during the step ranked ahead of
/// the prefill its later micro-batches hold ends the step at the next boundary (<see cref="YieldAfter"/>); what ran is
/// kept, the rest is planned again in the next step, behind the newcomer.</para>
/// </summary>
/// <remarks>A mutable struct kept in a local while one step is planned: the simulator plans millions of steps.</remarks>
public struct StepPlan
{
    private readonly AcceleratorProfile _profile;

    // Milliseconds since an uncapped sequence last had prefill pending or left (PrefillContention); +∞ for a plan
    // without a batch (never contended).
    private readonly double _sinceUncappedMs;

    // The fair rank of the last prefill chunk taken: the step's prefill is taken in PrefillOrder, so the highest.
    private double _lastPrefillRank;

    /// <summary>Starts planning a step of a batch in which <paramref name="decodingSequences"/> sequences decode, its
    /// prefill run in micro-batches of <paramref name="microBatchTokens"/> prompt tokens (0: one call, never yields).</summary>
    public StepPlan(AcceleratorProfile profile, int decodingSequences, int microBatchTokens = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(microBatchTokens);
        _profile = profile;
        DecodingSequences = decodingSequences;
        MicroBatchTokens = microBatchTokens;
        PrefillRoom = Math.Max(0, profile.StepTokenBudget - decodingSequences);
        _sinceUncappedMs = double.PositiveInfinity;
        _lastPrefillRank = double.NegativeInfinity;
    }

    private StepPlan(AcceleratorProfile profile, int decodingSequences, int microBatchTokens, double sinceUncappedMs)
        : this(profile, decodingSequences, microBatchTokens) => _sinceUncappedMs = sinceUncappedMs;

    /// <summary>The engines' <see cref="MicroBatchTokens"/> unless configured (the worker's
    /// <c>Worker:Accelerators:{g}:PrefillMicroBatchTokens</c>, the simulator's <c>--prefill-micro-batch-tokens</c>).</summary>
    public const int DefaultMicroBatchTokens = 256;

    /// <summary>Prompt tokens of one prefill micro-batch (the decodes run with the first); 0: the step is one call.</summary>
    public int MicroBatchTokens { get; }

    /// <summary>How many micro-batches the step's prefill, as planned so far, runs in (1 when it prefills nothing or
    /// is one call).</summary>
    public readonly int MicroBatches => MicroBatchTokens == 0 || PrefillTokens == 0 ? 1 : (PrefillTokens + MicroBatchTokens - 1) / MicroBatchTokens;

    /// <summary>Sequences that decode one token in this step.</summary>
    public int DecodingSequences { get; }

    /// <summary>Prompt tokens the step may still prefill.</summary>
    public int PrefillRoom { get; private set; }

    /// <summary>Prompt tokens the step prefills so far.</summary>
    public int PrefillTokens { get; private set; }

    /// <summary>Of <see cref="PrefillTokens"/>, those taken by sequences held to their contended prefill cap.</summary>
    public int CappedPrefillTokens { get; private set; }

    /// <summary>How long the step takes, as planned so far.</summary>
    public readonly double DurationMs => _profile.StepMs(DecodingSequences, PrefillTokens);

    /// <summary>
    /// Starts planning the next step of <paramref name="batch"/> (in <see cref="PrefillOrder"/>) and decides which of its
    /// sequences decode in it: every <see cref="IPlannedSequence.Decoding"/> one, except that while a sequence that may
    /// not wait (<see cref="IPlannedSequence.DecodeDeferrals"/> 0: a tenant within its share) has prefill pending and
    /// <paramref name="ready"/>, a sequence that may wait skips its decode, for at most its
    /// <see cref="IPlannedSequence.DecodeDeferrals"/> consecutive steps. Afterwards a sequence decodes in this step exactly
    /// when <see cref="Decodes"/> says so; the caller then takes prefill chunks in the batch's order.
    /// </summary>
    /// <remarks>
    /// Why: a flood's decoding sequences would otherwise take a token each of every step in which a light tenant's prompt
    /// is prefilled, and their per-sequence decode time, so a prompt that fills one step alone needs two under a flood.
    /// The bound keeps a flood sequence decoding at least once in every <c>K + 1</c> steps, and those steps are
    /// shorter. A sequence that waits still holds its slot and KV cache; its prefill is never deferred.
    /// </remarks>
    /// <param name="profile">The replica's profile.</param>
    /// <param name="batch">The running batch.</param>
    /// <param name="contention">The replica's memory of when an uncapped sequence last had prefill pending or left; this
    /// step updates it.</param>
    /// <param name="nowMs">When the step starts, in milliseconds on the replica's clock.</param>
    /// <param name="ready">Whether a sequence may run now (a metered endpoint in the simulator holds some); null: all may.</param>
    /// <param name="microBatchTokens">Prompt tokens of one prefill micro-batch (<see cref="MicroBatchTokens"/>); 0: one call.</param>
    public static StepPlan ForBatch<T>(AcceleratorProfile profile, IReadOnlyList<T> batch, PrefillContention contention, double nowMs, Func<T, bool>? ready = null, int microBatchTokens = 0)
        where T : IPlannedSequence
    {
        var deferring = false;
        var uncappedHeld = 0;
        var uncappedPrefilling = false;
        foreach (var sequence in batch)
        {
            if (ready is not null && !ready(sequence))
            {
                continue;
            }

            deferring |= sequence.DecodeDeferrals == 0 && sequence.PrefillRemaining > 0;
            if (sequence.ContendedPrefillTokens == 0)
            {
                uncappedHeld++;
                uncappedPrefilling |= sequence.PrefillRemaining > 0;
            }
        }

        var decoding = 0;
        foreach (var sequence in batch)
        {
            if (!sequence.Decoding)
            {
                continue;
            }

            if (deferring && sequence.DeferredSteps < sequence.DecodeDeferrals)
            {
                sequence.DeferredSteps++;
            }
            else
            {
                sequence.DeferredSteps = 0;
                decoding++;
            }
        }

        return new StepPlan(profile, decoding, microBatchTokens, contention.SinceUncapped(uncappedHeld, uncappedPrefilling, nowMs));
    }

    /// <summary>True when <paramref name="sequence"/> decodes in the step <see cref="ForBatch{T}"/> planned last.</summary>
    public static bool Decodes<T>(T sequence)
        where T : IPlannedSequence => sequence.Decoding && sequence.DeferredSteps == 0;

    /// <summary>Takes the next prefill chunk of a sequence with <paramref name="remainingPromptTokens"/> still to
    /// prefill: as much as the room left allows. Returns the chunk's size (0 once the budget is spent).</summary>
    public int TakePrefill(int remainingPromptTokens)
    {
        var chunk = Math.Clamp(remainingPromptTokens, 0, PrefillRoom);
        PrefillRoom -= chunk;
        PrefillTokens += chunk;
        return chunk;
    }

    /// <summary>
    /// Takes the next prefill chunk of <paramref name="sequence"/> (of the batch <see cref="ForBatch{T}"/> planned):
    /// as much as the room left allows, except that a sequence with a contended prefill cap, while an uncapped sequence
    /// has prefill pending on its replica or had, or left the batch, within the sequence's window
    /// (<see cref="PrefillContention"/>), takes only what keeps the capped sequences' tokens in this step within its
    /// cap. Returns the chunk's size.
    /// </summary>
    /// <remarks>
    /// Why: a step cannot be interrupted, so a light tenant's prompt arriving while a flood prompt fills the step
    /// waits for all of it (about 119 ms on an L4 at twice its speed, as long as the light prompt's own prefill). Capped,
    /// the flood's step is short whenever a light prompt may arrive, and the room the cap leaves goes to uncapped
    /// prompts in the same step. Uncontended, the flood prefills at full speed.
    /// </remarks>
    public int TakePrefill<T>(T sequence)
        where T : IPlannedSequence
    {
        var cap = sequence.ContendedPrefillTokens;
        int chunk;
        if (cap <= 0 || _sinceUncappedMs > sequence.ContendedPrefillWindowMs)
        {
            chunk = TakePrefill(sequence.PrefillRemaining);
        }
        else
        {
            chunk = TakePrefill(Math.Min(sequence.PrefillRemaining, cap - CappedPrefillTokens));
            CappedPrefillTokens += chunk;
        }

        if (chunk > 0)
        {
            _lastPrefillRank = sequence.FairRank;
        }

        return chunk;
    }

    /// <summary>Prompt tokens prefilled once the first <paramref name="microBatches"/> micro-batches have run.</summary>
    public readonly int PrefillDoneAfter(int microBatches) =>
        MicroBatchTokens == 0 ? PrefillTokens : (int)Math.Min(PrefillTokens, (long)microBatches * MicroBatchTokens);

    /// <summary>Of a prefill chunk of <paramref name="tokens"/> that starts <paramref name="offset"/> prompt tokens into
    /// the step (<see cref="PrefillTokens"/> before it was taken), the tokens prefilled once the first
    /// <paramref name="microBatches"/> micro-batches have run.</summary>
    public readonly int ChunkDoneAfter(int offset, int tokens, int microBatches) =>
        Math.Clamp(PrefillDoneAfter(microBatches) - offset, 0, tokens);

    /// <summary>Milliseconds from the step's start until its first <paramref name="microBatches"/> micro-batches have
    /// run: the step model's time for the decodes and the prefill done by then. One launch cost: the micro-batches are
    /// the engine's calls within one step, as llama.cpp's <c>n_ubatch</c>, whose cost the profile's prefill rate already
    /// holds; a step that ends early leaves the next step to pay its own.</summary>
    public readonly double MicroBatchesEndMs(int microBatches) => _profile.StepMs(DecodingSequences, PrefillDoneAfter(microBatches));

    /// <summary>True when a sequence of fair rank <paramref name="rank"/>, admitted during the step, ranks ahead of the
    /// prefill of its last micro-batch (its last chunk, the one ranked furthest back, <see cref="PrefillOrder"/>), and
    /// the step has more than one: an engine that times its own calls (llama.cpp) ends the step after the call under way
    /// when it is not the last (<see cref="YieldAfter"/>).</summary>
    public readonly bool YieldsTo(double rank) => rank < _lastPrefillRank && MicroBatches > 1;

    /// <summary>
    /// After how many micro-batches the step ends when a sequence of fair rank <paramref name="rank"/> is admitted
    /// <paramref name="elapsedMs"/> into it: at the end of the micro-batch under way when a later one holds prefill ranked
    /// behind it (the step's prefill is in <see cref="PrefillOrder"/>, so its last chunk is the one ranked furthest back),
    /// so the newcomer's prompt goes first in the next step; else <see cref="MicroBatches"/> (the step runs whole). Equal
    /// ranks keep admission order, so they never yield; nor does a step without a micro-batch left after the one under way.
    /// </summary>
    /// <remarks>
    /// Why: a step cannot be interrupted mid-call, so a light tenant's prompt admitted just after a flood step began
    /// used to wait out the whole step (a budget of flood prefill, ≈ 119 ms on an L4 at twice its speed) before its own
    /// prefill began. Work-conserving: the prefill that ran is kept and the rest runs in the next step; the cost of a
    /// yield is the next step's launch cost, and the decodes that step runs a step sooner.
    /// </remarks>
    public readonly int YieldAfter(double elapsedMs, double rank)
    {
        var all = MicroBatches;
        if (!YieldsTo(rank))
        {
            return all;
        }

        for (var k = 1; k < all; k++)
        {
            if (MicroBatchesEndMs(k) >= elapsedMs)
            {
                return k;
            }
        }

        return all;
    }
}
