using System.Text.Json;
using System.Text.Json.Serialization;

namespace Scheduler.Simulator.Workload;

/// <summary>One request of a KV-cache trace: arrival, lengths, and the ids of its prompt's consecutive blocks of
/// <see cref="Policies.Prefix.PromptBlocks.TraceBlockTokens"/> tokens (equal ids = equal blocks).</summary>
internal sealed record KvTraceRow(
    [property: JsonPropertyName("timestamp")] double TimestampMs,
    [property: JsonPropertyName("input_length")] int InputLength,
    [property: JsonPropertyName("output_length")] int OutputLength,
    [property: JsonPropertyName("hash_ids")] long[] HashIds,
    [property: JsonPropertyName("session_id")] string? SessionId = null);

/// <summary>
/// Reads and writes the JSONL format public KV-cache traces use (Mooncake's): one JSON object a line with
/// <c>timestamp</c> (ms), <c>input_length</c>, <c>output_length</c> and <c>hash_ids</c>; <c>session_id</c> is ours and
/// optional. A bad line ends in an <see cref="InvalidDataException"/> naming the line and the field.
/// </summary>
internal static class KvTraceReader
{
    private static readonly JsonSerializerOptions s_json = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    public static IReadOnlyList<KvTraceRow> Read(string path) => Parse(File.ReadLines(path));

    public static IReadOnlyList<KvTraceRow> Parse(IEnumerable<string> lines)
    {
        var rows = new List<KvTraceRow>();
        var number = 0;
        foreach (var line in lines)
        {
            number++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            KvTraceRow? row;
            try
            {
                row = JsonSerializer.Deserialize<KvTraceRow>(line, s_json);
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"KV trace line {number}: {e.Message}", e);
            }

            rows.Add(Check(row, number));
        }

        rows.Sort((a, b) => a.TimestampMs.CompareTo(b.TimestampMs));
        return rows;
    }

    public static void Write(string path, IEnumerable<KvTraceRow> rows) =>
        File.WriteAllLines(path, rows.Select(r => JsonSerializer.Serialize(r, s_json)));

    private static KvTraceRow Check(KvTraceRow? row, int number)
    {
        string? bad = row switch
        {
            null => "the line is null",
            { TimestampMs: < 0 or double.NaN } => "timestamp must be a number of milliseconds, 0 or more",
            { InputLength: <= 0 } => "input_length must be positive",
            { OutputLength: < 0 } => "output_length must be 0 or more",
            { HashIds: null } => "hash_ids is missing",
            _ when (long)row.HashIds.Length * Policies.Prefix.PromptBlocks.TraceBlockTokens > row.InputLength + Policies.Prefix.PromptBlocks.TraceBlockTokens - 1
                => $"hash_ids has {row.HashIds.Length} blocks of {Policies.Prefix.PromptBlocks.TraceBlockTokens} tokens, more than input_length {row.InputLength} covers",
            _ => null,
        };
        return bad is null ? row! : throw new InvalidDataException($"KV trace line {number}: {bad}.");
    }
}
