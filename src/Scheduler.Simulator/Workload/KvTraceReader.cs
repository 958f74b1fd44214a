using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Scheduler.Simulator.Workload;

/// <summary>One request of a KV-cache trace: arrival, lengths, and the ids of its prompt's consecutive blocks of
/// <see cref="Policies.Prefix.PromptBlocks.TraceBlockTokens"/> tokens (equal ids = equal blocks).</summary>
internal sealed record KvTraceRow(
    [property: JsonPropertyName("timestamp"), JsonRequired, JsonConverter(typeof(KvTimestampConverter))] double TimestampMs,
    [property: JsonPropertyName("input_length"), JsonRequired] int InputLength,
    [property: JsonPropertyName("output_length"), JsonRequired] int OutputLength,
    [property: JsonPropertyName("hash_ids"), JsonRequired] long[] HashIds,
    [property: JsonPropertyName("session_id")] string? SessionId = null)
{
    /// <summary>How many whole blocks its prompt has: an id past them names its trailing partial block, which no cache
    /// keeps (a method, not a property, so it is no key of the line written).</summary>
    public int WholeBlocks() => InputLength / Policies.Prefix.PromptBlocks.TraceBlockTokens;
}

/// <summary>
/// Reads and writes the JSONL format public KV-cache traces use (Mooncake's): one JSON object a line with
/// <c>timestamp</c> (ms, or an ISO 8601 time: <see cref="KvTimestampConverter"/>), <c>input_length</c>, <c>output_length</c> and <c>hash_ids</c>, all required; <c>session_id</c>
/// is ours and optional. Rows are replayed in time order, rows at the same time in file order, timed from the earliest
/// (so Unix-epoch milliseconds and offsets from 0 replay alike; the <see cref="TraceAccount"/> says the span, so
/// seconds written where milliseconds belong show). A bad line (a missing,
/// unknown or repeated key among them) ends in an <see cref="InvalidDataException"/> naming the file, the line and the
/// field; blank lines are skipped.
/// </summary>
internal static class KvTraceReader
{
    // Keys are matched exactly: a misspelt one ("Timestamp") is refused rather than left at its default.
    private static readonly JsonSerializerOptions s_json = new()
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        AllowDuplicateProperties = false,
    };

    private static readonly string s_shortHashIds =
        $"rows with fewer hash_ids than their prompt's whole {Policies.Prefix.PromptBlocks.TraceBlockTokens}-token blocks (the blocks past the last id never count as cached)";

    public static TraceRead<KvTraceRow> Read(string path, TraceProgress? progress = null) => Parse(TraceInput.Lines(path, "--kv-trace", progress), path);

    public static TraceRead<KvTraceRow> Parse(IEnumerable<string> lines, string source = "KV trace")
    {
        var rows = new TraceCollector<KvTraceRow>(source, "KV-cache JSONL", "timestamp");
        var number = 0;
        foreach (var line in lines)
        {
            number++;
            if (string.IsNullOrWhiteSpace(line))
            {
                rows.Skip("blank lines");
                continue;
            }

            KvTraceRow? row;
            try
            {
                row = JsonSerializer.Deserialize<KvTraceRow>(line, s_json);
            }
            catch (JsonException e)
            {
                // A CSV trace given here fails on its header: say where it belongs.
                var csv = TraceReader.Formats.Any(f => f.Header == line) ? " (a CSV trace: replay it with run --trace)" : "";
                var why = (e is KvTimestampConverter.Refused ? null : JsonInputError.Explain(line, typeof(KvTraceRow), s_json)) ?? Quoted.Text(e.Message, 400);
                throw new InvalidDataException($"{source} line {number}: {why}{csv}", e);
            }

            var checkedRow = Check(row, source, number);
            if (checkedRow.HashIds.Length < checkedRow.WholeBlocks())
            {
                // Accepted (a trace may name only the blocks it knows to be shared), but said: the prompt's whole blocks past
                // the last id are never found cached, so a hit rate read from such a trace is lower than the file may mean.
                rows.Note(s_shortHashIds);
            }

            rows.Add(checkedRow, checkedRow.TimestampMs, checkedRow.TimestampMs.ToString("R", CultureInfo.InvariantCulture), number);
        }

        return rows.Done((row, offset) => row with { TimestampMs = offset });
    }

    public static void Write(string path, IEnumerable<KvTraceRow> rows) =>
        File.WriteAllLines(path, rows.Select(r => JsonSerializer.Serialize(r, s_json)));

    private static KvTraceRow Check(KvTraceRow? row, string source, int number)
    {
        var blockTokens = Policies.Prefix.PromptBlocks.TraceBlockTokens;
        (string Field, string Problem)? bad = row switch
        {
            null => ("line", "null, not a request"),
            { TimestampMs: < 0 or double.NaN or double.PositiveInfinity } => ("timestamp", $"must be a number of milliseconds, 0 or more, not {row.TimestampMs}"),
            _ when TraceInput.TokensError(row.InputLength) is { } error => ("input_length", error),
            _ when TraceInput.TokensError(row.OutputLength) is { } error => ("output_length", error),
            { HashIds: null } => ("hash_ids", "null, not a list of block ids"),
            _ when (long)row.HashIds.Length * blockTokens > (long)row.InputLength + blockTokens - 1
                => ("hash_ids", $"{row.HashIds.Length} blocks of {blockTokens} tokens, more than input_length {row.InputLength} covers"),
            _ => null,
        };
        return bad is { } b ? throw TraceInput.Refuse(source, number, b.Field, b.Problem + ".") : row!;
    }
}
