using System.Globalization;

namespace Scheduler.Simulator.Workload;

/// <summary>One row of an Azure LLM inference trace (TIMESTAMP, ContextTokens, GeneratedTokens).</summary>
internal readonly record struct TraceRow(double OffsetMs, int PromptTokens, int OutputTokens);

/// <summary>
/// Reads the Azure LLM inference traces (Azure Public Dataset, Splitwise, ISCA 2024; CC-BY-4.0) into offsets from
/// the earliest request, in time order (rows at the same time in file order). The header must name the three columns;
/// a bad row ends in an <see cref="InvalidDataException"/> naming the file, the line and the column; blank lines are
/// skipped. Both releases' timestamps are read: 2023's (<c>2023-11-16 18:15:46.6805900</c>, no offset: read as UTC) and
/// 2024's week-long traces' (<c>2024-05-10 00:00:00.009930+00:00</c>; a whole second has no fraction).
/// </summary>
internal static class TraceReader
{
    /// <summary>The traces' header: the columns in their order.</summary>
    public const string Header = "TIMESTAMP,ContextTokens,GeneratedTokens";

    // The fraction is optional in both (".FFFFFFF" reads no fraction too); the offset only in the second.
    private static readonly string[] s_timestampFormats = ["yyyy-MM-dd HH:mm:ss.FFFFFFF", "yyyy-MM-dd HH:mm:ss.FFFFFFFzzz"];
    private static readonly string[] s_columns = Header.Split(',');

    public static IReadOnlyList<TraceRow> Read(string path) => Parse(TraceInput.Lines(path, "--traces"), path);

    public static IReadOnlyList<TraceRow> Parse(IEnumerable<string> lines, string source = "trace")
    {
        var rows = new List<(DateTimeOffset At, int Prompt, int Output, int Line)>();
        var number = 0;
        foreach (var line in lines)
        {
            number++;
            if (number == 1)
            {
                // Without this check a file with no header would lose its first row, and one with other columns would
                // be read as these.
                if (line != Header)
                {
                    throw TraceInput.Refuse(source, 1, "header", $"expected '{Header}', not '{line}'");
                }

                continue;
            }

            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            var fields = line.Split(',');
            if (fields.Length != s_columns.Length)
            {
                throw TraceInput.Refuse(source, number, "row", $"expected {s_columns.Length} comma-separated fields ({Header}), found {fields.Length}");
            }

            if (!DateTimeOffset.TryParseExact(fields[0], s_timestampFormats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
            {
                throw TraceInput.Refuse(source, number, s_columns[0], $"'{fields[0]}' is not a time like 2023-11-16 18:15:46.6805900 or 2024-05-10 00:00:00.009930+00:00");
            }

            rows.Add((at, Tokens(fields[1], source, number, s_columns[1]), Tokens(fields[2], source, number, s_columns[2]), number));
        }

        if (number == 0)
        {
            throw TraceInput.Refuse(source, 1, "header", $"the file is empty; expected '{Header}'");
        }

        if (rows.Count == 0)
        {
            throw TraceInput.NoRequests(source);
        }

        var ordered = TraceInput.InTimeOrder(rows, r => r.At);
        var earliest = ordered[0].At;
        return [.. ordered.Select(r =>
        {
            var offset = (r.At - earliest).TotalMilliseconds;
            return TraceInput.SpanError(offset) is { } span
                ? throw TraceInput.Refuse(source, r.Line, s_columns[0], span)
                : new TraceRow(offset, r.Prompt, r.Output);
        })];
    }

    private static int Tokens(string text, string source, int line, string column)
    {
        if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var tokens))
        {
            throw TraceInput.Refuse(source, line, column, $"'{text}' is not a whole number of tokens (at most {int.MaxValue:#,0})");
        }

        return TraceInput.TokensError(tokens) is { } error ? throw TraceInput.Refuse(source, line, column, error) : tokens;
    }
}
