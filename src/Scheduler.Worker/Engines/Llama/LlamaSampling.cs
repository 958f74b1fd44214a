using LLama.Native;
using Scheduler.Protos.V1;

namespace Scheduler.Worker.Engines.Llama;

/// <summary>
/// A sequence's own llama.cpp sampler chain from its sampling fields: top-k, then top-p, then temperature, then a
/// draw seeded per sequence. Unset fields mean temperature 1, no top-k or top-p cut, and a seed derived from the
/// sequence id — so a job resumed on another node draws the same tokens again. A temperature below
/// <see cref="GreedyBelow"/> is greedy, as 0 is.
/// </summary>
internal static class LlamaSampling
{
    private const float DefaultTemperature = 1f;

    /// <summary>llama.cpp divides the logits by the temperature: a tiny one (1e-45 is a valid JSON number) makes them
    /// infinite and the distribution NaN, and the draw then picks an arbitrary token instead of the likeliest. Below
    /// this the draw is greedy, as vLLM's sampler treats temperatures below 1e-5.</summary>
    private const float GreedyBelow = 1e-5f;

    public static SafeLLamaSamplerChainHandle Create(SequenceSpec spec)
    {
        var chain = SafeLLamaSamplerChainHandle.Create(LLamaSamplerChainParams.Default());
        var temperature = spec.HasTemperature ? spec.Temperature : DefaultTemperature;
        if (temperature < GreedyBelow)
        {
            chain.AddGreedySampler();
            return chain;
        }

        if (spec.HasTopK && spec.TopK > 0)
        {
            chain.AddTopK(spec.TopK);
        }

        if (spec.HasTopP && spec.TopP < 1)
        {
            chain.AddTopP(spec.TopP, minKeep: 1);
        }

        chain.AddTemperature(temperature);
        chain.AddDistributionSampler(Seed(spec.HasSeed ? spec.Seed : SyntheticTokens.Seed(spec.SequenceId)));
        return chain;
    }

    /// <summary>Folds a 64-bit seed into llama.cpp's 32 bits, avoiding the value that asks it for a random seed.</summary>
    private static uint Seed(ulong seed)
    {
        const uint RandomSeed = uint.MaxValue;
        var folded = (uint)(seed ^ (seed >> 32));
        return folded == RandomSeed ? folded - 1 : folded;
    }
}
