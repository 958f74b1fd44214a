namespace Scheduler.Simulator.Workload;

/// <summary>A CSV request-trace format <see cref="TraceReader"/> reads, chosen by its header line.</summary>
internal interface ICsvTraceFormat
{
    /// <summary>Its name, for the read account and messages.</summary>
    string Name { get; }

    /// <summary>Its header: the columns, in their order, as its files write them.</summary>
    string Header { get; }

    /// <summary>One data row (as many fields as <see cref="Header"/> names): the request, or why it is skipped; a bad
    /// field ends in an <see cref="InvalidDataException"/> naming <paramref name="source"/>, <paramref name="line"/> and
    /// the column.</summary>
    CsvTraceRow Read(string[] fields, string source, int line);
}

/// <summary>A CSV row read: its time in ticks (100 ns) from any fixed origin, as written, and its token counts; or,
/// with <paramref name="Skipped"/> set, a row the format says is no request (why, for the account).</summary>
internal readonly record struct CsvTraceRow(long Ticks, string Time, int PromptTokens, int OutputTokens, string? Skipped = null);
