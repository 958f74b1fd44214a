namespace Scheduler.Protos.Settings;

/// <summary>
/// Checks a secret sent as <c>authorization: Bearer &lt;secret&gt;</c> (the node token, set on the silo and on each
/// worker) before a process starts with it: one that cannot arrive as set made a node that never registers, or one that
/// registers and is then refused its own execution stream again and again. The problem is named, the value never.
/// </summary>
public static class BearerSecret
{
    /// <summary>What is wrong with <paramref name="value"/> as a bearer secret, as the end of a sentence naming the
    /// setting; null when nothing is.</summary>
    public static string? Problem(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return "is empty";
        }

        if (string.IsNullOrWhiteSpace(value))
        {
            return "is only whitespace";
        }

        // A silo trims the header's value; a node compares it whole: a leading space registered the node and then
        // refused the silo's stream to it, every heartbeat. A line break at the end (a Secret or file written with echo)
        // broke every call with an HTTP/2 protocol error that named nothing.
        if (char.IsWhiteSpace(value[0]) || char.IsWhiteSpace(value[^1]))
        {
            return "begins or ends with whitespace or a line break (a Secret or file written with echo ends with one)";
        }

        return value.Any(c => c is < ' ' or > '~')
            ? "holds a character other than printable ASCII (a line break, a tab, a letter outside ASCII), which an HTTP header does not carry as set"
            : null;
    }
}
