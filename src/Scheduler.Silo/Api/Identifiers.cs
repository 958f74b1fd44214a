namespace Scheduler.Silo.Api;

/// <summary>
/// The one check of caller-given ids, each refused before it keys a grain. The id of something new (a tenant, node,
/// accelerator or replica) must be short and free of spaces and control characters, so it can key a grain, sit in
/// a log line or a metric label, and be echoed in an error; an id that refers to something (a job, tenant,
/// accelerator or replica to read or change) need only be one that could exist.
/// </summary>
internal static class Identifiers
{
    public const int MaxLength = 128;

    /// <summary>Checks the id of something being created or registered.</summary>
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
            throw SchedulerErrors.InvalidArgument(field, $"is longer than {MaxLength} characters");
        }
    }
}
