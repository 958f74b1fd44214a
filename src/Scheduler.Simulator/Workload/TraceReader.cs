using System.Globalization;

namespace Scheduler.Simulator.Workload;

/// <summary>One row of an Azure LLM inference trace (TIMESTAMP, ContextTokens, GeneratedTokens).</summary>
internal readonly record struct TraceRow(double OffsetMs, int PromptTokens, int OutputTokens);

/// <summary>
/// Reads the Azure LLM inference traces (Azure Public Dataset, Splitwise, ISCA 2024; CC-BY-4.0) into offsets from
/// the first request.
/// </summary>
internal static class TraceReader
{
    private const string TimestampFormat = "yyyy-MM-dd HH:mm:ss.FFFFFFF";

    public static IReadOnlyList<TraceRow> Read(string path)
    {
        var rows = new List<TraceRow>();
        DateTime? first = null;
        foreach (var line in File.ReadLines(path).Skip(1))
        {
            if (line.Length == 0)
            {
                continue;
            }

            var parts = line.Split(',');
            var at = DateTime.ParseExact(parts[0], TimestampFormat, CultureInfo.InvariantCulture);
            first ??= at;
            rows.Add(new TraceRow(
                (at - first.Value).TotalMilliseconds,
                int.Parse(parts[1], CultureInfo.InvariantCulture),
                int.Parse(parts[2], CultureInfo.InvariantCulture)));
        }

        rows.Sort((a, b) => a.OffsetMs.CompareTo(b.OffsetMs));
        return rows;
    }
}
