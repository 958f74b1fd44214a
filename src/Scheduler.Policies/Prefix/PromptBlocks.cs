namespace Scheduler.Policies.Prefix;

/// <summary>
/// A prompt cut into fixed-size token blocks, each named by a chained hash: block i's hash covers its own tokens and
/// the hash of block i − 1, so two prompts share block i's hash exactly when they share every token up to its end.
/// What a prefix cache stores and what the placement's per-replica index predicts hits from; the engine and the
/// scheduler cut a prompt the same way, so their hashes agree. A trailing partial block is not cached (as in vLLM).
/// </summary>
public sealed class PromptBlocks
{
    /// <summary>Tokens per block for prompts given as text or token ids: small enough that a shared system prompt of
    /// a few hundred tokens is found, large enough that a long prompt stays a few dozen hashes.</summary>
    public const int DefaultBlockTokens = 64;

    /// <summary>Tokens per block of the public KV-cache traces' <c>hash_ids</c>.</summary>
    public const int TraceBlockTokens = 512;

    /// <summary>Characters per token of the simulated engine's tokenizer: text is cut into blocks of
    /// <see cref="DefaultBlockTokens"/> × this many characters. An estimate, but a deterministic one: equal text
    /// prefixes give equal blocks in every process.</summary>
    public const int CharsPerToken = 4;

    private const ulong Seed = 0xCBF29CE484222325UL;
    private const ulong Prime = 0x100000001B3UL;

    private readonly ulong[] _hashes;

    private PromptBlocks(ulong[] hashes, int blockTokens)
    {
        _hashes = hashes;
        BlockTokens = blockTokens;
    }

    /// <summary>The blocks' chained hashes, first block first.</summary>
    public IReadOnlyList<ulong> Hashes => _hashes;

    /// <summary>The hashes as a span: what the prefix caches read on every match, without an interface call per block.</summary>
    internal ReadOnlySpan<ulong> HashSpan => _hashes;

    /// <summary>Tokens in each block.</summary>
    public int BlockTokens { get; }

    public int Count => _hashes.Length;

    /// <summary>The first block's hash: the key under which a replica holding any of this prompt's prefix is found.</summary>
    public ulong Root => _hashes[0];

    /// <summary>The blocks of a text prompt as the simulated engine's tokenizer cuts it; null when shorter than a block.</summary>
    public static PromptBlocks? FromText(string? text, int blockTokens = DefaultBlockTokens)
    {
        var blockChars = blockTokens * CharsPerToken;
        if (string.IsNullOrEmpty(text) || text.Length < blockChars)
        {
            return null;
        }

        var hashes = new ulong[text.Length / blockChars];
        var previous = Seed;
        for (var b = 0; b < hashes.Length; b++)
        {
            var hash = Mix(Seed, previous);
            foreach (var c in text.AsSpan(b * blockChars, blockChars))
            {
                hash = (hash ^ c) * Prime;
            }

            hashes[b] = previous = hash;
        }

        return new PromptBlocks(hashes, blockTokens);
    }

    /// <summary>The blocks of a prompt given as token ids; null when shorter than a block.</summary>
    public static PromptBlocks? FromTokenIds(IReadOnlyList<int>? tokenIds, int blockTokens = DefaultBlockTokens)
    {
        if (tokenIds is null || tokenIds.Count < blockTokens)
        {
            return null;
        }

        var hashes = new ulong[tokenIds.Count / blockTokens];
        var previous = Seed;
        for (var b = 0; b < hashes.Length; b++)
        {
            var hash = Mix(Seed, previous);
            for (var t = b * blockTokens; t < (b + 1) * blockTokens; t++)
            {
                hash = (hash ^ (uint)tokenIds[t]) * Prime;
            }

            hashes[b] = previous = hash;
        }

        return new PromptBlocks(hashes, blockTokens);
    }

    /// <summary>The blocks of a trace request given by block ids (equal ids = equal blocks), chained so that an id
    /// counts only behind the same ids; null when there are none.</summary>
    public static PromptBlocks? FromBlockIds(IReadOnlyList<long>? blockIds, int blockTokens = TraceBlockTokens)
    {
        if (blockIds is null || blockIds.Count == 0)
        {
            return null;
        }

        var hashes = new ulong[blockIds.Count];
        var previous = Seed;
        for (var b = 0; b < hashes.Length; b++)
        {
            hashes[b] = previous = Mix(previous, (ulong)blockIds[b]);
        }

        return new PromptBlocks(hashes, blockTokens);
    }

    /// <summary>How many leading blocks this prompt and <paramref name="other"/> share. The hashes are chained, so equal at a
    /// position means equal up to it.</summary>
    public int SharedLeadingBlocks(PromptBlocks other)
    {
        var shared = 0;
        while (shared < Count && shared < other.Count && _hashes[shared] == other._hashes[shared])
        {
            shared++;
        }

        return shared;
    }

    /// <summary>Tokens of a <paramref name="promptTokens"/>-token prompt that <paramref name="blocks"/> matched blocks
    /// spare from prefill: at least the last prompt token is always computed, for its logits.</summary>
    public int CachedTokens(int blocks, int promptTokens) =>
        Math.Clamp(Math.Min(blocks, Count) * BlockTokens, 0, Math.Max(0, promptTokens - 1));

    // SplitMix64's finaliser over the pair: a well-spread hash of (a, b), order-sensitive.
    private static ulong Mix(ulong a, ulong b)
    {
        var z = a + (b * 0x9E3779B97F4A7C15UL) + 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
