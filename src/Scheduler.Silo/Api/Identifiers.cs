namespace Scheduler.Silo.Api;

/// <summary>
/// The shape every caller-chosen id must have (tenants, nodes, accelerators, replicas): short, and free of spaces and
/// control characters, so it can key a grain, sit in a log line or a metric label, and be echoed in an error.
/// </summary>
internal static class Identifiers
{
    public const int MaxLength = 128;

    public static void Require(string value, string field)
    {
        if (string.IsNullOrEmpty(value))
        {
            throw SchedulerErrors.InvalidArgument(field, "is required");
        }

        if (value.Length > MaxLength || value.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            throw SchedulerErrors.InvalidArgument(field, $"must be at most {MaxLength} characters without spaces or control characters");
        }
    }
}
