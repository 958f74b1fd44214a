using Scheduler.Policies.Profiles;

namespace Scheduler.Abstractions.Fleet;

/// <summary>Lets grains exchange the policy library's <see cref="AcceleratorProfile"/>, which has no Orleans dependency.</summary>
[GenerateSerializer, Alias("scheduler.AcceleratorProfile")]
public struct AcceleratorProfileSurrogate
{
    [Id(0)] public string Product;
    [Id(1)] public AcceleratorKind Kind;
    [Id(2)] public long MemoryBytes;
    [Id(3)] public double DecodeStepBaseMs;
    [Id(4)] public double DecodeStepPerSequenceMs;
    [Id(5)] public double PrefillTokensPerSecond;
    [Id(6)] public int MaxSequences;
    [Id(7)] public long KvCapacityTokens;
    [Id(8)] public int StepTokenBudget;
    [Id(9)] public double PricePerHourUsd;
    [Id(10)] public double PricePerMillionInputTokensUsd;
    [Id(11)] public double PricePerMillionOutputTokensUsd;
    [Id(12)] public double PowerWatts;
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
