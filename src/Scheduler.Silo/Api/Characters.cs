namespace Scheduler.Silo.Api;

/// <summary>Limits "in characters" as the API documents them: Unicode characters (scalar values), not .NET's UTF-16
/// code units, which count an emoji or any character outside the Basic Multilingual Plane twice — a client in another
/// language counting its string's characters would find 129 emoji refused as more than 256.</summary>
internal static class Characters
{
    /// <summary>Whether <paramref name="text"/> has more than <paramref name="max"/> Unicode characters.</summary>
    public static bool MoreThan(string text, int max)
    {
        // Never fewer code units than characters: short text needs no count.
        if (text.Length <= max)
        {
            return false;
        }

        var count = 0;
        foreach (var _ in text.EnumerateRunes())
        {
            if (++count > max)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The first <paramref name="max"/> Unicode characters of <paramref name="text"/>, or all of it when it has no
    /// more: a cut by UTF-16 code units would shorten text within the limit, and could split a character in two, whose
    /// lone half reaches the client as U+FFFD.</summary>
    public static string First(string text, int max)
    {
        if (text.Length <= max)
        {
            return text;
        }

        var count = 0;
        var units = 0;
        foreach (var rune in text.EnumerateRunes())
        {
            if (++count > max)
            {
                return text[..units];
            }

            units += rune.Utf16SequenceLength;
        }

        return text;
    }
}
