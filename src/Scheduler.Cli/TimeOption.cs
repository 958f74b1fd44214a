using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Scheduler.Cli;

/// <summary>An option naming a moment: an age back from now (<c>90s</c>, <c>10m</c>, <c>2h</c>, <c>7d</c>) or a time
/// (<c>2026-12-02T04:00:00Z</c>, UTC unless it says otherwise). A bad value is a parse error naming the option.</summary>
internal static class TimeOption
{
    public static Option<DateTimeOffset?> Create(string name, string description) => new(name)
    {
        Description = $"{description}: an age back from now (90s, 10m, 2h, 7d) or a time (2026-12-02T04:00:00Z)",
        CustomParser = result => Parse(result, name),
    };

    private static DateTimeOffset? Parse(ArgumentResult result, string name)
    {
        var text = result.Tokens.Single().Value;
        if (AgeSeconds(text) is { } seconds)
        {
            // An age further back than the calendar goes ("1000000d", "1e12s") is said, not thrown: it aborted schedctl
            // with a stack trace and exit code 134.
            var now = DateTimeOffset.UtcNow;
            var reach = now - DateTimeOffset.MinValue;
            if (seconds > reach.TotalSeconds)
            {
                result.AddError($"{name} '{text}': an age reaches back at most {reach.Days}d, to the year 1");
                return null;
            }

            return now - TimeSpan.FromSeconds(seconds);
        }

        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at))
        {
            return at;
        }

        result.AddError($"{name} '{text}': expected an age such as 10m or 2h, or a time such as 2026-12-02T04:00:00Z");
        return null;
    }

    // The seconds an age such as "90s" or "1.5h" names; null when the text is no age (a negative or NaN count included).
    private static double? AgeSeconds(string text)
    {
        if (text.Length < 2 || !double.TryParse(text[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var n) || !(n >= 0))
        {
            return null;
        }

        return text[^1] switch
        {
            's' => n,
            'm' => n * 60,
            'h' => n * 3_600,
            'd' => n * 86_400,
            _ => null,
        };
    }
}
