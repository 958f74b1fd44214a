using System.Globalization;
using System.Text;

namespace Scheduler.Simulator.Workload;

/// <summary>
/// What the two trace readers (the CSV formats, <see cref="TraceReader"/>, and the KV-cache JSONL,
/// <see cref="KvTraceReader"/>) check alike: the file is UTF-8 text, every request has at least one prompt and one
/// output token, the trace spans at most a year (<see cref="TraceCollector{T}"/> orders and times the rows). A bad
/// input ends in an <see cref="InvalidDataException"/> naming the file, the line and the field.
/// </summary>
internal static class TraceInput
{
    /// <summary>The longest a trace may span, earliest request to latest: a year of milliseconds. A longer one is a
    /// unit mistake (seconds since 1970 read as milliseconds, say), and replayed at the slowest rate factor it would
    /// run past the virtual clock's calendar.</summary>
    public const double MaxSpanMs = 365.0 * 24 * 3600 * 1000;

    /// <summary>The lines of <paramref name="path"/> (given by <paramref name="option"/>), read as UTF-8 (a leading
    /// byte-order mark is dropped); a line that is not UTF-8 is refused rather than read as garbage. How far it got is
    /// kept in <paramref name="progress"/>.</summary>
    public static IEnumerable<string> Lines(string path, string option, TraceProgress? progress)
    {
        // Bad bytes decode to U+FFFD, checked line by line: a throwing decoder fails a whole buffer ahead, at no line.
        using var reader = new StreamReader(InputFile.Check(path, option), new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), detectEncodingFromByteOrderMarks: false);
        var number = 0;
        while (reader.ReadLine() is { } line)
        {
            number++;
            progress?.Line(path, number);
            if (line.Contains('\uFFFD', StringComparison.Ordinal))
            {
                throw new InvalidDataException($"{path} line {number}: not UTF-8 text");
            }

            yield return number == 1 ? line.TrimStart('\uFEFF') : line;
        }

        progress?.End(path, number);
    }

    /// <summary>The error for line <paramref name="line"/> of <paramref name="source"/>, naming the field.</summary>
    public static InvalidDataException Refuse(string source, int line, string field, string problem) =>
        new($"{source} line {line}: {field}: {problem}");

    /// <summary>What is wrong with a count of prompt or output tokens; null when nothing is. A prompt needs a token for
    /// the first output token's logits, and every request needs a first token: that is what TTFT measures. (A trace's
    /// zero used to be served as one token, silently.)</summary>
    public static string? TokensError(long tokens) => tokens < 1 ? $"must be at least 1, not {tokens}" : null;

    /// <summary>What is wrong with a request's offset from the trace's start; null when nothing is.</summary>
    public static string? SpanError(double offsetMs) =>
        offsetMs > MaxSpanMs ? $"{offsetMs:G6} ms from the trace's start, more than a year ({MaxSpanMs:G6} ms)" : null;

    /// <summary>A count of tokens in a CSV field, any whole number; refused naming the column when it is not one.</summary>
    public static int Count(string text, string source, int line, string column) =>
        int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var count) ? count
        : throw Refuse(source, line, column, string.Create(CultureInfo.InvariantCulture, $"'{Quoted.Text(text)}' is not a whole number of tokens (at most {int.MaxValue:#,0})"));

    /// <summary>A request's count of prompt or output tokens in a CSV field; refused naming the column unless it is a
    /// whole number of at least 1.</summary>
    public static int Tokens(string text, string source, int line, string column) => Tokens(Count(text, source, line, column), source, line, column);

    /// <summary><paramref name="tokens"/>, a count read from a CSV field (<see cref="Count"/>); refused naming the column
    /// unless it is at least 1.</summary>
    public static int Tokens(int tokens, string source, int line, string column) =>
        TokensError(tokens) is { } error ? throw Refuse(source, line, column, error) : tokens;

    /// <summary>The error for a trace with no requests: its figures would all be NaN. <paramref name="skipped"/> says
    /// what was skipped instead (a BurstGPT file of failed rows only).</summary>
    public static InvalidDataException NoRequests(string source, string? skipped = null) =>
        new($"{source}: no requests in the trace{(skipped is null ? "" : $" ({skipped})")}");
}
