namespace Scheduler.Worker.Engines;

/// <summary>
/// Deterministic token text: token i of sequence s is always the same word, in any process and on any node,
/// so a sequence re-dispatched with <c>resume_from_token</c> continues exactly where the first run stopped.
/// </summary>
internal static class SyntheticTokens
{
    // Each token starts with a space, as word-piece tokenizers render whole words.
    private static readonly string[] Words =
    [
        " the", " a", " model", " token", " batch", " step", " cache", " fast", " queue", " fair",
        " tenant", " node", " grain", " silo", " stream", " prompt", " answer", " is", " of", " and",
        " to", " in", " that", " with", " on", " for", " by", " as", " at", " from",
        " light", " heavy", " cost", " price", " time", " first", " next", " last", " more", " less",
        " GPU", " LPU", " replica", " place", " serve", " decode", " prefill", " run", " wait", " send",
        " data", " word", " line", " page", " scale", " shard", " lease", " beat", " ready", " done",
        " yes", " no", " maybe", ".",
    ];

    /// <summary>A stable seed for a sequence id (string.GetHashCode is randomised per process, so it will not do).</summary>
    public static ulong Seed(string sequenceId)
    {
        // FNV-1a over the UTF-16 code units.
        var hash = 14695981039346656037UL;
        foreach (var c in sequenceId)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        return hash;
    }

    /// <summary>The text of token <paramref name="index"/> of the sequence with <paramref name="seed"/>.</summary>
    public static string Token(ulong seed, int index)
    {
        // SplitMix64 finaliser: neighbouring indexes land on unrelated words.
        var z = seed + ((ulong)(uint)index * 0x9E3779B97F4A7C15UL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return Words[(int)(z % (ulong)Words.Length)];
    }
}
