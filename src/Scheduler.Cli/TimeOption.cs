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
        if (Age(text) is { } age)
        {
            return DateTimeOffset.UtcNow - age;
        }

        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at))
        {
            return at;
        }

        result.AddError($"{name} '{text}': expected an age such as 10m or 2h, or a time such as 2026-12-02T04:00:00Z");
        return null;
    }

    private static TimeSpan? Age(string text)
    {
        if (text.Length < 2 || !double.TryParse(text[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var n) || n < 0)
        {
            return null;
        }

        return text[^1] switch
        {
            's' => TimeSpan.FromSeconds(n),
            'm' => TimeSpan.FromMinutes(n),
            'h' => TimeSpan.FromHours(n),
            'd' => TimeSpan.FromDays(n),
            _ => null,
        };
    }
}
