using Scheduler.Policies.Profiles;

namespace Scheduler.Abstractions.Fleet;

/// <summary>Lets grains exchange the policy library's <see cref="AcceleratorProfile"/>, which has no Orleans dependency.</summary>
[GenerateSerializer, Alias("scheduler.AcceleratorProfile")]
public struct AcceleratorProfileSurrogate
{
    [Id(0)] public string Product { get; set; }
    [Id(1)] public AcceleratorKind Kind { get; set; }
    [Id(2)] public long MemoryBytes { get; set; }
    [Id(3)] public double DecodeStepBaseMs { get; set; }
    [Id(4)] public double DecodeStepPerSequenceMs { get; set; }
    [Id(5)] public double PrefillTokensPerSecond { get; set; }
    [Id(6)] public int MaxSequences { get; set; }
    [Id(7)] public long KvCapacityTokens { get; set; }
    [Id(8)] public int StepTokenBudget { get; set; }
    [Id(9)] public double PricePerHourUsd { get; set; }
    [Id(10)] public double PricePerMillionInputTokensUsd { get; set; }
    [Id(11)] public double PricePerMillionOutputTokensUsd { get; set; }
    [Id(12)] public double PowerWatts { get; set; }
}

[RegisterConverter]
public sealed class AcceleratorProfileConverter : IConverter<AcceleratorProfile, AcceleratorProfileSurrogate>
{
    public AcceleratorProfile ConvertFromSurrogate(in AcceleratorProfileSurrogate s) => new(
        s.Product, s.Kind, s.MemoryBytes, s.DecodeStepBaseMs, s.DecodeStepPerSequenceMs, s.PrefillTokensPerSecond,
        s.MaxSequences, s.KvCapacityTokens, s.StepTokenBudget, s.PricePerHourUsd, s.PricePerMillionInputTokensUsd,
        s.PricePerMillionOutputTokensUsd, s.PowerWatts);

    public AcceleratorProfileSurrogate ConvertToSurrogate(in AcceleratorProfile p) => new()
    {
        Product = p.Product,
        Kind = p.Kind,
        MemoryBytes = p.MemoryBytes,
        DecodeStepBaseMs = p.DecodeStepBaseMs,
        DecodeStepPerSequenceMs = p.DecodeStepPerSequenceMs,
        PrefillTokensPerSecond = p.PrefillTokensPerSecond,
        MaxSequences = p.MaxSequences,
        KvCapacityTokens = p.KvCapacityTokens,
        StepTokenBudget = p.StepTokenBudget,
        PricePerHourUsd = p.PricePerHourUsd,
        PricePerMillionInputTokensUsd = p.PricePerMillionInputTokensUsd,
        PricePerMillionOutputTokensUsd = p.PricePerMillionOutputTokensUsd,
        PowerWatts = p.PowerWatts,
    };
}
