namespace Scheduler.Policies.Profiles;

/// <summary>
/// Built-in profiles for an 8B-class model (Llama-3.1-8B), seeded from the published figures collected in
/// shared/CALIBRATION.md; see docs/accelerator-profiles.md for each number's source and which are estimates.
/// </summary>
public static class AcceleratorProfiles
{
    private const long GiB = 1L << 30;

    /// <summary>H100 80G: decode step 10.6 + 0.075·b ms, prefill ≈ 57k tok/s, KV ≈ 460k tokens, $12.29/h.</summary>
    public static AcceleratorProfile H100 { get; } = new(
        Product: "H100",
        Kind: AcceleratorKind.Gpu,
        MemoryBytes: 80 * GiB,
        DecodeStepBaseMs: 10.6,
        DecodeStepPerSequenceMs: 0.075,
        PrefillTokensPerSecond: 57_000,
        MaxSequences: 256,
        KvCapacityTokens: 460_000,
        StepTokenBudget: 2048,
        PricePerHourUsd: 12.29,
        PricePerMillionInputTokensUsd: 0,
        PricePerMillionOutputTokensUsd: 0,
        PowerWatts: 700);

    /// <summary>A100 80G: decode step 12.5 + 0.13·b ms, prefill ≈ 15k tok/s, KV ≈ 460k tokens, $5.12/h.</summary>
    public static AcceleratorProfile A100 { get; } = new(
        Product: "A100",
        Kind: AcceleratorKind.Gpu,
        MemoryBytes: 80 * GiB,
        DecodeStepBaseMs: 12.5,
        DecodeStepPerSequenceMs: 0.13,
        PrefillTokensPerSecond: 15_000,
        MaxSequences: 256,
        KvCapacityTokens: 460_000,
        StepTokenBudget: 2048,
        PricePerHourUsd: 5.12,
        PricePerMillionInputTokensUsd: 0,
        PricePerMillionOutputTokensUsd: 0,
        PowerWatts: 400);

    /// <summary>L40S 48G: decode step 22.5 + 0.19·b ms, prefill ≈ 28k tok/s, KV ≈ 240k tokens.
    /// Price estimated at $1.86/h (not in the calibration table).</summary>
    public static AcceleratorProfile L40S { get; } = new(
        Product: "L40S",
        Kind: AcceleratorKind.Gpu,
        MemoryBytes: 48 * GiB,
        DecodeStepBaseMs: 22.5,
        DecodeStepPerSequenceMs: 0.19,
        PrefillTokensPerSecond: 28_000,
        MaxSequences: 128,
        KvCapacityTokens: 240_000,
        StepTokenBudget: 2048,
        PricePerHourUsd: 1.86,
        PricePerMillionInputTokensUsd: 0,
        PricePerMillionOutputTokensUsd: 0,
        PowerWatts: 350);

    /// <summary>L4 24G (estimates): decode ≈ 18 tok/s at batch 1 → base 55 ms; per-sequence 0.9 ms (A100's scaled
    /// by memory bandwidth); prefill ≈ 5.8k tok/s (A100's scaled by FP16 compute); KV ≈ 60k tokens; $0.805/h.</summary>
    public static AcceleratorProfile L4 { get; } = new(
        Product: "L4",
        Kind: AcceleratorKind.Gpu,
        MemoryBytes: 24 * GiB,
        DecodeStepBaseMs: 55,
        DecodeStepPerSequenceMs: 0.9,
        PrefillTokensPerSecond: 5_800,
        MaxSequences: 64,
        KvCapacityTokens: 60_000,
        StepTokenBudget: 1024,
        PricePerHourUsd: 0.805,
        PricePerMillionInputTokensUsd: 0,
        PricePerMillionOutputTokensUsd: 0,
        PowerWatts: 72);

    /// <summary>Groq LPU, metered: ≈ 877 output tok/s per user → 1.14 ms per step; $0.05 / $0.08 per million
    /// input / output tokens. Prefill speed and per-sequence cost are estimates.</summary>
    public static AcceleratorProfile Lpu { get; } = new(
        Product: "LPU",
        Kind: AcceleratorKind.Lpu,
        MemoryBytes: 230L * 1024 * 1024,
        DecodeStepBaseMs: 1.14,
        DecodeStepPerSequenceMs: 0.01,
        PrefillTokensPerSecond: 100_000,
        MaxSequences: 128,
        KvCapacityTokens: 1_000_000,
        StepTokenBudget: 4096,
        PricePerHourUsd: 0,
        PricePerMillionInputTokensUsd: 0.05,
        PricePerMillionOutputTokensUsd: 0.08,
        PowerWatts: 0);

    /// <summary>All built-in profiles by product name.</summary>
    public static IReadOnlyDictionary<string, AcceleratorProfile> All { get; } =
        new[] { H100, A100, L40S, L4, Lpu }.ToDictionary(p => p.Product, StringComparer.OrdinalIgnoreCase);

    /// <summary>Looks a profile up by product name, case-insensitively.</summary>
    public static bool TryGet(string product, out AcceleratorProfile profile) =>
        All.TryGetValue(product, out profile!);
}
