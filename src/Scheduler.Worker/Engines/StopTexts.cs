using Scheduler.Protos.V1;

namespace Scheduler.Worker.Engines;

/// <summary>
/// A sequence's stop texts (<c>stop</c> and <c>stop_sequences</c>), found in its output as tokens stream out. Only the
/// end of the output is kept: each token's text is searched together with the characters before it that a stop text
/// spanning tokens could start in.
/// </summary>
internal sealed class StopTexts
{
    private readonly string[] _stops;
    private string _tail = string.Empty;

    public StopTexts(SequenceSpec spec)
    {
        _stops = [.. spec.StopSequences.Prepend(spec.Stop).Where(s => s.Length > 0).Distinct(StringComparer.Ordinal)];
        TailLength = _stops.Length == 0 ? 0 : _stops.Max(s => s.Length) - 1;
    }

    /// <summary>How many characters of output before the next token a stop text could begin in.</summary>
    public int TailLength { get; }

    /// <summary>Sets the output delivered before a resume (its end suffices), without searching it: it was searched then.</summary>
    public void Resume(string deliveredEnd) => _tail = Tail(deliveredEnd);

    /// <summary>Adds a token's text; true when a stop text ends inside it.</summary>
    public bool Append(string text)
    {
        if (_stops.Length == 0)
        {
            return false;
        }

        // The tail holds fewer characters than the longest stop text, and any stop text wholly inside it was found
        // when it arrived: a match here ends inside the new text.
        var window = _tail + text;
        _tail = Tail(window);
        foreach (var stop in _stops)
        {
            if (window.Contains(stop, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private string Tail(string text) => text.Length <= TailLength ? text : text[^TailLength..];
}
