using System.Globalization;

namespace Scheduler.Simulator.Workload;

/// <summary>
/// BurstGPT (HPMLL/BurstGPT: ChatGPT and GPT-4 requests through Azure OpenAI; CC-BY-4.0):
/// <c>Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type</c>, the timestamp in seconds from the
/// trace's start. Its files with failures mark a failed request by 0 response tokens: such a row is skipped and
/// counted, not replayed (it generated nothing). Model, total and log type are not used: every row is a request to the
/// fleet's one model.
/// </summary>
internal sealed class BurstGptTraceFormat : ICsvTraceFormat
{
    public static BurstGptTraceFormat Instance { get; } = new();

    // The latest second whose ticks fit a long.
    private const decimal MaxSeconds = long.MaxValue / TimeSpan.TicksPerSecond;

    public string Name => "BurstGPT";

    public string Header => "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type";

    public CsvTraceRow Read(string[] fields, string source, int line)
    {
        if (!decimal.TryParse(fields[0], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var seconds) || seconds > MaxSeconds)
        {
            throw TraceInput.Refuse(source, line, "Timestamp", $"'{Quoted.Text(fields[0])}' is not a number of seconds from the trace's start, 0 or more");
        }

        var ticks = (long)(seconds * TimeSpan.TicksPerSecond);
        var prompt = TraceInput.Count(fields[2], source, line, "Request tokens");
        var output = TraceInput.Count(fields[3], source, line, "Response tokens");

        // A failed request still had its prompt counted: a negative one is a bad row, not a failure.
        return output == 0 && prompt >= 0
            ? new(ticks, fields[0], 0, 0, "failed requests (Response tokens 0)")
            : new(ticks, fields[0], TraceInput.Tokens(prompt, source, line, "Request tokens"), TraceInput.Tokens(output, source, line, "Response tokens"));
    }
}
