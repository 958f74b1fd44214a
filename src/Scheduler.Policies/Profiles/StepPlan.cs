namespace Scheduler.Policies.Profiles;

/// <summary>
/// The step model of a simulated replica, shared by the worker's simulated engine and the simulator so both
/// "hardware" behave alike: a step decodes one token for every prefilled sequence, and prefills prompt chunks
/// (in <see cref="PrefillOrder"/>) within what the profile's per-step token budget leaves; it lasts
/// <see cref="AcceleratorProfile.StepMs"/> of those two amounts.
/// </summary>
/// <remarks>A mutable struct kept in a local while one step is planned: the simulator plans millions of steps.</remarks>
public struct StepPlan
{
    private readonly AcceleratorProfile _profile;

    /// <summary>Starts planning a step of a batch in which <paramref name="decodingSequences"/> sequences decode.</summary>
    public StepPlan(AcceleratorProfile profile, int decodingSequences)
    {
        _profile = profile;
        DecodingSequences = decodingSequences;
        PrefillRoom = Math.Max(0, profile.StepTokenBudget - decodingSequences);
    }

    /// <summary>Sequences that decode one token in this step.</summary>
    public int DecodingSequences { get; }

    /// <summary>Prompt tokens the step may still prefill.</summary>
    public int PrefillRoom { get; private set; }

    /// <summary>Prompt tokens the step prefills so far.</summary>
    public int PrefillTokens { get; private set; }

    /// <summary>How long the step takes, as planned so far.</summary>
    public readonly double DurationMs => _profile.StepMs(DecodingSequences, PrefillTokens);

    /// <summary>Takes the next prefill chunk of a sequence with <paramref name="remainingPromptTokens"/> still to
    /// prefill: as much as the room left allows. Returns the chunk's size (0 once the budget is spent).</summary>
    public int TakePrefill(int remainingPromptTokens)
    {
        var chunk = Math.Clamp(remainingPromptTokens, 0, PrefillRoom);
        PrefillRoom -= chunk;
        PrefillTokens += chunk;
        return chunk;
    }
}
