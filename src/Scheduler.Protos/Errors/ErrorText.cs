namespace Scheduler.Protos.Errors;

/// <summary>Text an error carries to a client — a value the caller sent, an upstream's message — cut to a length.</summary>
public static class ErrorText
{
    /// <summary><paramref name="text"/>, or its first <paramref name="maxCharacters"/> UTF-16 characters and "…" when it is
    /// longer. The cut never falls between the two halves of a character outside the Basic Multilingual Plane: the lone
    /// half reaches the client as U+FFFD (in a status message, a ResourceInfo's resource_name, an OpenAI error body).</summary>
    public static string Cut(string text, int maxCharacters) => text.Length <= maxCharacters
        ? text
        : string.Concat(text.AsSpan(0, char.IsHighSurrogate(text[maxCharacters - 1]) ? maxCharacters - 1 : maxCharacters), "…");
}
