namespace Scheduler.Simulator.Workload;

/// <summary>
/// What the trace readers do alike with the rows they read: count the lines they skip and the rows out of time order,
/// keep the earliest and latest request, and hand the rows back in time order (ties in file order), each timed from
/// the earliest, with a <see cref="TraceAccount"/>.
/// </summary>
/// <param name="source">The file, for messages.</param>
/// <param name="format">The format's name, for the account.</param>
/// <param name="timeField">The column or key holding the time, for a span error.</param>
internal sealed class TraceCollector<T>(string source, string format, string timeField)
{
    private readonly List<(T Row, double Ms, int Line)> _rows = [];
    private readonly Dictionary<string, int> _skipped = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _noted = new(StringComparer.Ordinal);
    private (double Ms, string Time, int Line) _earliest = (double.PositiveInfinity, "", 0);
    private (double Ms, string Time, int Line) _latest = (double.NegativeInfinity, "", 0);
    private int _outOfOrder;

    /// <summary>A request at <paramref name="ms"/> (milliseconds from any fixed origin), written <paramref name="time"/>
    /// on line <paramref name="line"/>.</summary>
    public void Add(T row, double ms, string time, int line)
    {
        if (ms < _latest.Ms)
        {
            _outOfOrder++;
        }
        else
        {
            _latest = (ms, time, line);
        }

        if (ms < _earliest.Ms)
        {
            _earliest = (ms, time, line);
        }

        _rows.Add((row, ms, line));
    }

    /// <summary>A line not replayed, counted under why.</summary>
    public void Skip(string why) => _skipped[why] = _skipped.GetValueOrDefault(why) + 1;

    /// <summary>A row replayed, but not as fully as the file may have meant: counted under what the account says of it.</summary>
    public void Note(string what) => _noted[what] = _noted.GetValueOrDefault(what) + 1;

    /// <summary>The rows in time order, <paramref name="timed"/> giving each its offset from the earliest request;
    /// throws when there is none or the trace spans more than a year.</summary>
    public TraceRead<T> Done(Func<T, double, T> timed)
    {
        if (_rows.Count == 0)
        {
            throw TraceInput.NoRequests(source, _skipped.Count == 0 ? null : TraceAccount.Skips(_skipped));
        }

        if (TraceInput.SpanError(_latest.Ms - _earliest.Ms) is { } span)
        {
            throw TraceInput.Refuse(source, _latest.Line, timeField, span);
        }

        // A sorted file (the usual case) is not copied: a week-long trace has millions of rows. OrderBy is stable,
        // so rows of one time keep their file order (List.Sort is not).
        IEnumerable<(T Row, double Ms, int Line)> ordered = _outOfOrder == 0 ? _rows : _rows.OrderBy(r => r.Ms);
        var rows = new List<T>(_rows.Count);
        rows.AddRange(ordered.Select(r => timed(r.Row, r.Ms - _earliest.Ms)));
        var account = new TraceAccount(source, format, rows.Count, _skipped, _outOfOrder, _latest.Ms - _earliest.Ms, (_earliest.Time, _earliest.Line), (_latest.Time, _latest.Line), _noted);
        return new TraceRead<T>(rows, account);
    }
}
