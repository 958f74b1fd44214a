using System.Globalization;

namespace Scheduler.Simulator;

/// <summary>Text from an input file as an error line or the read account quotes it.</summary>
internal static class Quoted
{
    /// <summary><paramref name="text"/> whole up to <paramref name="max"/> characters; a longer one (a KV trace's line of
    /// thousands of block ids read as a CSV header, a field of millions of digits) by its start, its end and its length,
    /// so the error stays one readable line rather than megabytes. Null (a JSON null where text belongs) is empty.</summary>
    public static string Text(string? text, int max = 80) =>
        text is null ? "" : text.Length <= max ? text : string.Create(CultureInfo.InvariantCulture, $"{text[..(max / 2)]}…{text[^(max / 2)..]} ({text.Length:#,0} characters)");
}
