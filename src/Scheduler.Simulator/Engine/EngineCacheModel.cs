namespace Scheduler.Simulator.Engine;

/// <summary>
/// How the simulated engines' prefix caches differ from the placement's model of them. The placement sizes its index
/// of a replica's cache as the KV room its reservations leave free plus the running prompts' blocks; a real engine may
/// keep less (memory for activations, block fragmentation, a per-slot cache as llama.cpp's), and the index then
/// predicts hits the engine no longer holds unless the engine's cache events correct it.
/// </summary>
/// <param name="Share">The share of that room the engine's cache actually holds, in (0, 1]; 1 is the placement's model.</param>
/// <param name="Events">True when each step report names the blocks the engine's cache evicted, for the placement's
/// index to forget (as the worker's simulated engine reports them); false: the index mirrors the eviction rule alone.</param>
internal sealed record EngineCacheModel(double Share = 1, bool Events = true)
{
    /// <summary>What the worker's simulated engine does: the placement's model, with cache events.</summary>
    public static readonly EngineCacheModel Default = new();

    /// <summary>Tokens the engine's cache holds where the placement's model says <paramref name="modelTokens"/>.</summary>
    public long Budget(long modelTokens) => Share >= 1 ? modelTokens : (long)(Share * Math.Max(0, modelTokens));
}
