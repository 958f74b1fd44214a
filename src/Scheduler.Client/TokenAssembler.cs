using Scheduler.Protos.V1;

namespace Scheduler.Client;

/// <summary>
/// Orders token chunks by their first token index and keeps each token once: a chunk that overlaps tokens
/// already received (a resumed or re-dispatched stream sending them again) is dropped.
/// </summary>
internal sealed class TokenAssembler
{
    // Sorted by first token index; the chunks' token ranges never overlap.
    private readonly List<TokenChunk> _chunks = [];

    /// <summary>The number of tokens kept.</summary>
    public int TokenCount { get; private set; }

    /// <summary>The kept chunks' text, in token order.</summary>
    public string Text => string.Concat(_chunks.Select(c => c.Text));

    /// <summary>Keeps <paramref name="chunk"/> unless it is empty or overlaps tokens already kept.</summary>
    /// <returns>True when the chunk was kept.</returns>
    public bool TryAdd(TokenChunk chunk)
    {
        if (chunk.TokenCount <= 0 && chunk.Text.Length == 0)
        {
            return false;
        }

        var index = InsertionIndex(chunk.FirstTokenIndex);
        var overlapsPrevious = index > 0 && End(_chunks[index - 1]) > chunk.FirstTokenIndex;
        var overlapsNext = index < _chunks.Count && End(chunk) > _chunks[index].FirstTokenIndex;
        if (overlapsPrevious || overlapsNext)
        {
            return false;
        }

        _chunks.Insert(index, chunk);
        TokenCount += chunk.TokenCount;
        return true;
    }

    private int InsertionIndex(int firstTokenIndex)
    {
        // Chunks nearly always arrive in order, so search from the end.
        var index = _chunks.Count;
        while (index > 0 && _chunks[index - 1].FirstTokenIndex >= firstTokenIndex)
        {
            index--;
        }

        return index;
    }

    // A chunk with text but no token count still occupies its first index.
    private static int End(TokenChunk chunk) => chunk.FirstTokenIndex + Math.Max(chunk.TokenCount, 1);
}
