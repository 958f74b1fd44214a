using System.Globalization;

namespace Scheduler.Simulator.Workload;

/// <summary>
/// What a reader made of a trace file, printed before a run's figures: a trace in the wrong unit (seconds read as
/// milliseconds), a share of skipped rows or an unsorted file is then seen rather than silently replayed.
/// </summary>
/// <param name="Source">The file.</param>
/// <param name="Format">The format: a CSV trace's header chose it; <c>prefix --kv-trace</c> reads the KV-cache JSONL.</param>
/// <param name="Requests">Rows read as requests.</param>
/// <param name="Skipped">Lines not replayed, by why (blank lines; a format's failed requests).</param>
/// <param name="OutOfOrder">Rows earlier than a row above them: replayed in time order all the same.</param>
/// <param name="SpanMs">From the earliest request to the latest.</param>
/// <param name="Earliest">The earliest request's time as the file writes it, and its line.</param>
/// <param name="Latest">The latest request's time as the file writes it, and its line.</param>
/// <param name="Noted">Rows replayed with a caveat, by what it is (a KV trace's rows whose block ids stop short).</param>
internal sealed record TraceAccount(
    string Source, string Format, int Requests, IReadOnlyDictionary<string, int> Skipped, int OutOfOrder, double SpanMs,
    (string Time, int Line) Earliest, (string Time, int Line) Latest, IReadOnlyDictionary<string, int> Noted)
{
    /// <summary>One line: "read code.csv (Azure LLM inference): 8,819 requests, none skipped, in time order; spans
    /// 3,435.948 s, from '2023-11-16 18:17:03.9799600' (line 2) to '2023-11-16 19:14:19.9280160' (line 8,820)".</summary>
    public string Line()
    {
        var order = OutOfOrder == 0 ? "in time order" : $"{OutOfOrder:#,0} rows out of time order (replayed in time order)";
        return string.Create(CultureInfo.InvariantCulture,
            $"read {Source} ({Format}): {Requests:#,0} requests, {Skips(Skipped)}, {order}; spans {Span(SpanMs)}, from '{Quoted.Text(Earliest.Time)}' (line {Earliest.Line:#,0}) to '{Quoted.Text(Latest.Time)}' (line {Latest.Line:#,0})")
            + string.Concat(Noted.Select(n => string.Create(CultureInfo.InvariantCulture, $"; {n.Value:#,0} {n.Key}")));
    }

    /// <summary>"none skipped", or "skipped 3 blank lines, 1 failed requests (Response tokens 0)".</summary>
    public static string Skips(IReadOnlyDictionary<string, int> skipped) => skipped.Count == 0 ? "none skipped"
        : "skipped " + string.Join(", ", skipped.Select(s => string.Create(CultureInfo.InvariantCulture, $"{s.Value:#,0} {s.Key}")));

    private static string Span(double ms) => TimeSpan.FromMilliseconds(ms) switch
    {
        { TotalDays: >= 1 } t => string.Create(CultureInfo.InvariantCulture, $"{t.TotalDays:0.00} days"),
        { TotalHours: >= 1 } t => string.Create(CultureInfo.InvariantCulture, $"{t.TotalHours:0.00} h"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{ms / 1000:#,0.###} s"),
    };
}

/// <summary>A trace's requests in time order, and what the reader made of the file.</summary>
internal sealed record TraceRead<T>(IReadOnlyList<T> Rows, TraceAccount Account);
