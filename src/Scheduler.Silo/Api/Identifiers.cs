using System.Text;

namespace Scheduler.Silo.Api;

/// <summary>
/// The one check of caller-given ids, each refused before it keys a grain. The id of something new (a tenant, node,
/// accelerator or replica) must be short and free of spaces, control and invisible formatting characters, so it can
/// key a grain, sit in a log line or a metric label, and be echoed in an error; an id that refers to something (a job,
/// tenant, accelerator or replica to read or change) need only be one that could exist.
/// </summary>
internal static class Identifiers
{
    public const int MaxLength = 128;

    /// <summary>What the id of something new must be, for a refusal to say.</summary>
    private static readonly string s_newIdRule = $"must be at most {MaxLength} UTF-16 code units (an emoji counts 2) without spaces, control or invisible formatting characters";

    /// <summary>Checks the id of something being created or registered.</summary>
    public static void Require(string value, string field)
    {
        if (NewIdProblem(value) is { } problem)
        {
            throw SchedulerErrors.InvalidArgument(field, problem);
        }
    }

    /// <summary>What is wrong with <paramref name="value"/> as the id of something new, in the words a refusal of it
    /// says after the field's name; null when nothing is. The API's refusals and the start-up check of configured
    /// tenants both say it, so the two cannot word the rule differently.</summary>
    public static string? NewIdProblem(string value) =>
        string.IsNullOrEmpty(value) ? "is required" : IsValidNew(value) ? null : s_newIdRule;

    /// <summary>Whether <paramref name="value"/> may name something new. Besides spaces and control characters, no
    /// invisible formatting character (Unicode's Cf: zero-width spaces and joiners, bidirectional overrides, the BOM,
    /// the tag characters U+E0001 to U+E007F): "team\u200Bb" looks like "teamb" in every listing, log line and metric
    /// label, and a right-to-left override turns the rest of a log line around. Checked by code point, not by UTF-16
    /// unit: a character outside the BMP is two surrogates, each of category Surrogate, so the tag characters passed
    /// ("teamb" followed by U+E0062 was a tenant of its own that listed as "teamb").</summary>
    private static bool IsValidNew(string value) =>
        value.Length is > 0 and <= MaxLength
        && !value.EnumerateRunes().Any(r => Rune.IsWhiteSpace(r) || Rune.IsControl(r) || Rune.GetUnicodeCategory(r) == System.Globalization.UnicodeCategory.Format);

    /// <summary>Checks an id that refers to something that should exist.</summary>
    public static void RequireReference(string value, string field)
    {
        // Whitespace is no id either: a grain key cannot be blank (it answered INTERNAL before; found by the fuzz test).
        if (string.IsNullOrWhiteSpace(value))
        {
            throw SchedulerErrors.InvalidArgument(field, "is required");
        }

        // No such id can exist.
        if (value.Length > MaxLength)
        {
            throw SchedulerErrors.InvalidArgument(field, $"is longer than {MaxLength} UTF-16 code units");
        }
    }
}
