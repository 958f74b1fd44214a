using Scheduler.Protos.V1;

namespace Scheduler.Silo.OpenAi;

/// <summary>
/// Leaves a request's stop texts, and anything after them, out of an OpenAI answer. OpenAI's contract is that the
/// returned text does not contain the stop sequence; the simulated and llama.cpp engines send the token that completes
/// it (tokens are atomic on the gRPC API, which keeps them), and such a token may even carry text past it. The filter
/// is fed the job's text piece by piece (a streamed answer) or at once (a whole one) and returns what may be sent: it
/// holds back a trailing part that is a prefix of some stop text until later text shows whether it is one; on a
/// complete stop text it cuts at the earliest occurrence and sends nothing more. An upstream engine has already cut
/// the text, so nothing is found there. One instance per answer; not thread-safe.
/// </summary>
internal sealed class StopTextFilter
{
    private readonly string[] _stops;
    private readonly int _longest;
    private string _held = "";

    public StopTextFilter(IEnumerable<string> stops)
    {
        _stops = [.. stops.Where(s => s.Length > 0).Distinct(StringComparer.Ordinal)];
        _longest = _stops.Length == 0 ? 0 : _stops.Max(s => s.Length);
    }

    /// <summary>True once a complete stop text was seen: the answer ends there, with finish reason "stop".</summary>
    public bool Stopped { get; private set; }

    /// <summary>The stop texts of a submission (<c>stop</c> and <c>stop_sequences</c>).</summary>
    public static StopTextFilter For(SubmitJobRequest submit) => new(submit.StopSequences.Append(submit.Stop));

    /// <summary>The text that can be sent now, given the next piece of the job's text.</summary>
    public string Push(string? text)
    {
        if (Stopped)
        {
            return "";
        }

        if (_stops.Length == 0)
        {
            return text ?? "";
        }

        var all = _held + text;
        var cut = -1;
        foreach (var stop in _stops)
        {
            var at = all.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (cut < 0 || at < cut))
            {
                cut = at;
            }
        }

        if (cut >= 0)
        {
            Stopped = true;
            _held = "";
            return all[..cut];
        }

        var hold = HeldLength(all);
        _held = all[^hold..];
        return all[..^hold];
    }

    /// <summary>The text still held back, to send at the end of a job that did not stop on a stop text.</summary>
    public string End()
    {
        var rest = _held;
        _held = "";
        return rest;
    }

    /// <summary>A whole text with its first stop text and anything after it left out.</summary>
    public string Whole(string text) => Push(text) + End();

    // The longest end of the text that a stop text starts with (a complete one would have been found already).
    private int HeldLength(string text)
    {
        for (var length = Math.Min(_longest - 1, text.Length); length > 0; length--)
        {
            var end = text.AsSpan(text.Length - length);
            foreach (var stop in _stops)
            {
                if (stop.AsSpan().StartsWith(end, StringComparison.Ordinal))
                {
                    return length;
                }
            }
        }

        return 0;
    }
}
