namespace Scheduler.Simulator.Workload;

/// <summary>
/// The Azure LLM inference traces (Azure Public Dataset, Splitwise, ISCA 2024; CC-BY-4.0):
/// <c>TIMESTAMP,ContextTokens,GeneratedTokens</c>. Both releases' timestamps are read: 2023's
/// (<c>2023-11-16 18:15:46.6805900</c>, no offset: read as UTC) and 2024's week-long traces'
/// (<c>2024-05-10 00:00:00.009930+00:00</c>; a whole second has no fraction); and ISO 8601's, which a trace converted
/// or written by another tool has (<c>2023-11-16T18:15:46.6805900Z</c>, <c>2023-11-16T19:15:46+01:00</c>: an offset is
/// converted to UTC, none is UTC).
/// </summary>
internal sealed class AzureTraceFormat : ICsvTraceFormat
{
    public static AzureTraceFormat Instance { get; } = new();

    // The fraction is optional in all (".FFFFFFF" reads no fraction too); the offset only in the second.
    private static readonly string[] s_timestampFormats = ["yyyy-MM-dd HH:mm:ss.FFFFFFF", "yyyy-MM-dd HH:mm:ss.FFFFFFFzzz", IsoTimestamp.Format];

    public string Name => "Azure LLM inference";

    public string Header => "TIMESTAMP,ContextTokens,GeneratedTokens";

    public CsvTraceRow Read(string[] fields, string source, int line)
    {
        if (!IsoTimestamp.TryParse(fields[0], s_timestampFormats, out var at))
        {
            throw TraceInput.Refuse(source, line, "TIMESTAMP", $"'{Quoted.Text(fields[0])}' is not a time like 2023-11-16 18:15:46.6805900, 2024-05-10 00:00:00.009930+00:00 or {IsoTimestamp.Example}");
        }

        return new(at.UtcTicks, fields[0], TraceInput.Tokens(fields[1], source, line, "ContextTokens"), TraceInput.Tokens(fields[2], source, line, "GeneratedTokens"));
    }
}
