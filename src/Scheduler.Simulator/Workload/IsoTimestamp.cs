using System.Globalization;

namespace Scheduler.Simulator.Workload;

/// <summary>
/// ISO 8601's form of a time, as traces converted or written by other tools have it: <c>2023-11-16T18:15:46.6805900Z</c>;
/// the fraction is optional (up to 7 digits), the zone a <c>Z</c>, an offset (<c>+01:00</c>, converted to UTC) or none
/// (UTC, as the 2023 Azure traces' times are). The Azure CSV format and the KV-cache JSONL's <c>timestamp</c> read it alike.
/// </summary>
internal static class IsoTimestamp
{
    /// <summary>The pattern, for <see cref="DateTimeOffset.TryParseExact(string, string[], IFormatProvider, DateTimeStyles, out DateTimeOffset)"/>.</summary>
    public const string Format = "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK";

    /// <summary>One such time, for messages.</summary>
    public const string Example = "2023-11-16T18:15:46.6805900Z";

    /// <summary>Reads <paramref name="text"/> in one of <paramref name="formats"/> (which may hold others than
    /// <see cref="Format"/>): a time without a zone is UTC.</summary>
    public static bool TryParse(string text, string[] formats, out DateTimeOffset at) =>
        DateTimeOffset.TryParseExact(text, formats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out at);
}
