using System.Globalization;

namespace Scheduler.Silo.Models;

/// <summary>
/// Guards the tokenizer. A BPE tokenizer first splits text into runs of one character class (letters, digits,
/// spaces, other) and then merges each run's bytes at a cost that grows with the square of its length: one 900 KB
/// "word" took more than 20 s to count, a denial of service for the price of one request. No real prompt holds a
/// run that long, so such prompts are refused before they are counted.
/// </summary>
internal static class PromptRuns
{
    /// <summary>Longest same-class run accepted: far above any word, number or indentation, and counted in about a millisecond.</summary>
    public const int MaxRunLength = 4096;

    public static int Longest(string text)
    {
        var longest = 0;
        var run = 0;
        var previous = (Class)(-1);
        foreach (var c in text)
        {
            var current = ClassOf(c);
            run = current == previous ? run + 1 : 1;
            previous = current;
            longest = Math.Max(longest, run);
        }

        return longest;
    }

    private enum Class
    {
        Letter,
        Digit,
        Space,
        Other,
    }

    private static Class ClassOf(char c) => CharUnicodeInfo.GetUnicodeCategory(c) switch
    {
        UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => Class.Letter,
        UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => Class.Digit,
        _ when char.IsWhiteSpace(c) => Class.Space,
        _ => Class.Other,
    };
}
