namespace Scheduler.Policies.Profiles;

/// <summary>
/// The step model of a simulated replica, shared by the worker's simulated engine and the simulator so both
/// "hardware" behave alike: a step decodes one token for every prefilled sequence, and prefills prompt chunks
/// (in <see cref="PrefillOrder"/>) within what the profile's per-step token budget leaves; it lasts
/// <see cref="AcceleratorProfile.StepMs"/> of those two amounts. The llama.cpp engine fills its decode batch with it.
/// While the replica is contended (<see cref="PrefillContention"/>: a light prompt is pending or likely), sequences with
/// a contended prefill cap (a tenant over its share) together prefill at most that many tokens a step
/// (<see cref="TakePrefill{T}"/>).
/// </summary>
/// <remarks>A mutable struct kept in a local while one step is planned: the simulator plans millions of steps.</remarks>
public struct StepPlan
{
    private readonly AcceleratorProfile _profile;

    // Milliseconds since an uncapped sequence last had prefill pending or left (PrefillContention); +∞ for a plan
    // without a batch (never contended).
    private readonly double _sinceUncappedMs;

    /// <summary>Starts planning a step of a batch in which <paramref name="decodingSequences"/> sequences decode.</summary>
    public StepPlan(AcceleratorProfile profile, int decodingSequences)
    {
        _profile = profile;
        DecodingSequences = decodingSequences;
        PrefillRoom = Math.Max(0, profile.StepTokenBudget - decodingSequences);
        _sinceUncappedMs = double.PositiveInfinity;
    }

    private StepPlan(AcceleratorProfile profile, int decodingSequences, double sinceUncappedMs)
        : this(profile, decodingSequences) => _sinceUncappedMs = sinceUncappedMs;

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
    public static StepPlan ForBatch<T>(AcceleratorProfile profile, IReadOnlyList<T> batch, PrefillContention contention, double nowMs, Func<T, bool>? ready = null)
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

        return new StepPlan(profile, decoding, contention.SinceUncapped(uncappedHeld, uncappedPrefilling, nowMs));
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
        if (cap <= 0 || _sinceUncappedMs > sequence.ContendedPrefillWindowMs)
        {
            return TakePrefill(sequence.PrefillRemaining);
        }

        var chunk = TakePrefill(Math.Min(sequence.PrefillRemaining, cap - CappedPrefillTokens));
        CappedPrefillTokens += chunk;
        return chunk;
    }
}
