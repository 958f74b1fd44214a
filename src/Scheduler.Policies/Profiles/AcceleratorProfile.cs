namespace Scheduler.Policies.Profiles;

/// <summary>
/// Performance, capacity and price of one accelerator serving one model. The simulated engine steps with
/// these numbers and the placement policies predict with them, so the prediction and the "hardware" agree.
/// </summary>
/// <param name="Product">Product name, e.g. "H100".</param>
/// <param name="Kind">GPU or LPU.</param>
/// <param name="MemoryBytes">Device memory.</param>
/// <param name="DecodeStepBaseMs">Fixed part of one decode step.</param>
/// <param name="DecodeStepPerSequenceMs">Added to a decode step for each sequence in the batch.</param>
/// <param name="PrefillTokensPerSecond">Prompt tokens processed per second.</param>
/// <param name="MaxSequences">Sequence slots of one replica's running batch.</param>
/// <param name="KvCapacityTokens">Tokens of KV cache a replica can hold (prompt + output of all running sequences).</param>
/// <param name="StepTokenBudget">Tokens one engine step may process: one per decoding sequence plus prefill chunks.</param>
/// <param name="PricePerHourUsd">Hourly price of capacity paid by the hour; 0 for metered capacity.</param>
/// <param name="PricePerMillionInputTokensUsd">Metered price per million prompt tokens; 0 for hourly capacity.</param>
/// <param name="PricePerMillionOutputTokensUsd">Metered price per million output tokens; 0 for hourly capacity.</param>
/// <param name="PowerWatts">Power drawn while decoding.</param>
public sealed record AcceleratorProfile(
    string Product,
    AcceleratorKind Kind,
    long MemoryBytes,
    double DecodeStepBaseMs,
    double DecodeStepPerSequenceMs,
    double PrefillTokensPerSecond,
    int MaxSequences,
    long KvCapacityTokens,
    int StepTokenBudget,
    double PricePerHourUsd,
    double PricePerMillionInputTokensUsd,
    double PricePerMillionOutputTokensUsd,
    double PowerWatts)
{
    /// <summary>True when the capacity is paid per token (a metered endpoint), not per hour.</summary>
    public bool IsMetered => PricePerMillionInputTokensUsd > 0 || PricePerMillionOutputTokensUsd > 0;

    /// <summary>Milliseconds of one engine step decoding <paramref name="decodingSequences"/> sequences
    /// and prefilling <paramref name="prefillTokens"/> prompt tokens.</summary>
    public double StepMs(int decodingSequences, int prefillTokens)
    {
        var decode = decodingSequences > 0 ? DecodeStepBaseMs + (DecodeStepPerSequenceMs * decodingSequences) : 0;
        var prefill = prefillTokens > 0 ? prefillTokens * 1000.0 / PrefillTokensPerSecond : 0;
        // A step that only prefills still pays the fixed launch cost once.
        return decodingSequences == 0 && prefillTokens > 0 ? DecodeStepBaseMs + prefill : decode + prefill;
    }

    /// <summary>Cost of <paramref name="seconds"/> of this accelerator's time, or 0 for metered capacity.</summary>
    public double HourlyCostUsd(double seconds) => PricePerHourUsd * seconds / 3600.0;

    /// <summary>Metered cost of the given tokens, or 0 for hourly capacity.</summary>
    public double MeteredCostUsd(long inputTokens, long outputTokens) =>
        ((inputTokens * PricePerMillionInputTokensUsd) + (outputTokens * PricePerMillionOutputTokensUsd)) / 1_000_000.0;

    /// <summary>The same profile running <paramref name="factor"/> times faster (tests and demos run faster than
    /// real time); prices and capacities are unchanged. A factor of +∞ gives an instant engine.</summary>
    public AcceleratorProfile Accelerated(double factor)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(factor, 0);
        return this with
        {
            DecodeStepBaseMs = DecodeStepBaseMs / factor,
            DecodeStepPerSequenceMs = DecodeStepPerSequenceMs / factor,
            PrefillTokensPerSecond = PrefillTokensPerSecond * factor,
        };
    }
}
