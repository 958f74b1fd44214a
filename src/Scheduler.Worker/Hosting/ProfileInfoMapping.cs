using Scheduler.Policies.Profiles;
using Scheduler.Protos.V1;

namespace Scheduler.Worker.Hosting;

/// <summary>Puts an accelerator profile on the wire.</summary>
internal static class ProfileInfoMapping
{
    public static AcceleratorProfileInfo ToInfo(this AcceleratorProfile profile) => new()
    {
        Product = profile.Product,
        Kind = profile.Kind.ToString().ToLowerInvariant(),
        MemoryBytes = profile.MemoryBytes,
        DecodeStepBaseMs = profile.DecodeStepBaseMs,
        DecodeStepPerSequenceMs = profile.DecodeStepPerSequenceMs,
        PrefillTokensPerSecond = profile.PrefillTokensPerSecond,
        PricePerHourUsd = profile.PricePerHourUsd,
        PricePerMillionInputTokensUsd = profile.PricePerMillionInputTokensUsd,
        PricePerMillionOutputTokensUsd = profile.PricePerMillionOutputTokensUsd,
        PowerWatts = profile.PowerWatts,
        MaxSequences = profile.MaxSequences,
        KvCapacityTokens = profile.KvCapacityTokens,
        StepTokenBudget = profile.StepTokenBudget,
    };
}
