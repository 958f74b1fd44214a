namespace Scheduler.Simulator.Workload;

/// <summary>One request of a CSV trace: its offset from the earliest request and its token counts.</summary>
internal readonly record struct TraceRow(double OffsetMs, int PromptTokens, int OutputTokens);

/// <summary>
/// Reads a CSV request trace in one of the <see cref="Formats"/>, chosen by its header line, into offsets from the
/// earliest request, in time order (rows at the same time in file order). A header none of them writes, a row with
/// another number of fields or a bad field ends in an <see cref="InvalidDataException"/> naming the file, the line and
/// the column; blank lines and the rows a format says are no request are skipped and counted in the
/// <see cref="TraceAccount"/>. Fields are split at every comma: none of the formats quotes.
/// </summary>
internal static class TraceReader
{
    /// <summary>The formats read, by header.</summary>
    public static IReadOnlyList<ICsvTraceFormat> Formats { get; } = [AzureTraceFormat.Instance, BurstGptTraceFormat.Instance];

    /// <summary>Reads the trace at <paramref name="path"/>, given by <paramref name="option"/> (named in a refusal of the
    /// path: <c>--traces</c> for a trace the commands find in that folder by name).</summary>
    public static TraceRead<TraceRow> Read(string path, TraceProgress? progress = null, string option = "--trace") => Parse(TraceInput.Lines(path, option, progress), path);

    public static TraceRead<TraceRow> Parse(IEnumerable<string> lines, string source = "trace")
    {
        using var line = lines.GetEnumerator();
        if (!line.MoveNext())
        {
            throw TraceInput.Refuse(source, 1, "header", $"the file is empty; expected {Headers}");
        }

        // Without this check a file with no header would lose its first row, and one with other columns would be read
        // as these.
        var format = Formats.FirstOrDefault(f => f.Header == line.Current) ?? throw TraceInput.Refuse(source, 1, "header",
            $"expected {Headers}, not '{Quoted.Text(line.Current)}'{(line.Current.StartsWith('{') ? " (a KV-cache JSONL trace is replayed by prefix --kv-trace)" : "")}");
        var columns = format.Header.Split(',');
        var rows = new TraceCollector<TraceRow>(source, format.Name, columns[0]);
        long? origin = null;
        var number = 1;
        while (line.MoveNext())
        {
            number++;
            if (string.IsNullOrWhiteSpace(line.Current))
            {
                rows.Skip("blank lines");
                continue;
            }

            var fields = line.Current.Split(',');
            if (fields.Length != columns.Length)
            {
                throw TraceInput.Refuse(source, number, "row", $"expected {columns.Length} comma-separated fields ({format.Header}), found {fields.Length}");
            }

            var row = format.Read(fields, source, number);
            if (row.Skipped is { } why)
            {
                rows.Skip(why);
                continue;
            }

            // Milliseconds from the first row, exactly as a difference of the two times: ticks as a double lose the
            // 100 ns digit of a 2024 date.
            origin ??= row.Ticks;
            rows.Add(new TraceRow(0, row.PromptTokens, row.OutputTokens), (row.Ticks - origin.Value) / (double)TimeSpan.TicksPerMillisecond, row.Time, number);
        }

        return rows.Done((row, offset) => row with { OffsetMs = offset });
    }

    private static string Headers => string.Join(" or ", Formats.Select(f => $"'{f.Header}' ({f.Name})"));
}
