using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using Scheduler.Protos.V1;

namespace Scheduler.Cli;

/// <summary>How schedctl writes numbers, money, enums and times.</summary>
internal static class Format
{
    /// <summary>An integer, or "-" for zero when zero means "not set".</summary>
    public static string OrDash(long value) => value == 0 ? "-" : Number(value);

    /// <summary>An integer.</summary>
    public static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>A decimal with <paramref name="decimals"/> digits after the point.</summary>
    public static string Number(double value, int decimals) =>
        value.ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    /// <summary>An amount of US dollars with up to 8 decimals (one job can cost a few millionths).</summary>
    public static string Dollars(double value) => value.ToString("0.00######", CultureInfo.InvariantCulture);

    /// <summary>An amount of US dollars with its sign.</summary>
    public static string Usd(double value) => "$" + Dollars(value);

    /// <summary>A share of 0..1 as a percentage.</summary>
    public static string Percent(double share) => Number(share * 100, 0) + "%";

    /// <summary>A byte count in GiB.</summary>
    public static string GiB(long bytes) => Number(bytes / (1024.0 * 1024 * 1024), 0);

    /// <summary>A job status, e.g. "running".</summary>
    public static string Status(JobStatus status) => status.ToString().ToLowerInvariant();

    /// <summary>True once a job has ended (its record holds its usage).</summary>
    public static bool IsEnded(JobStatus status) => status is JobStatus.Completed or JobStatus.Failed or JobStatus.Cancelled or JobStatus.Expired;

    /// <summary>A job's output tokens of its most, "22/4000"; "-/4000" until it ends (a listing does not follow the
    /// stream).</summary>
    public static string Output(Job job) =>
        (job.Usage is { } u && IsEnded(job.Status) ? Number(u.CompletionTokens) : "-") + "/" + Number(job.MaxTokens);

    /// <summary>A priority class, e.g. "critical"; unspecified is standard.</summary>
    public static string Priority(Priority priority) =>
        (priority == Protos.V1.Priority.Unspecified ? Protos.V1.Priority.Standard : priority)
        .ToString().ToLowerInvariant();

    /// <summary>A UTC time as ISO 8601, or "-" when unset.</summary>
    public static string Time(Timestamp? at) => at is null ? "-" : Time(at.ToDateTime());

    /// <summary>A UTC time as ISO 8601.</summary>
    public static string Time(DateTime at) => at.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>A text, or "-" when empty.</summary>
    public static string OrDash(string text) => text.Length == 0 ? "-" : text;

    /// <summary>Jobs that met their objective of those counted, as "97% (33/34)", or "-" when none were counted.</summary>
    public static string Attainment(int met, int jobs) =>
        jobs == 0 ? "-" : $"{Percent((double)met / jobs)} ({met}/{jobs})";

    /// <summary>Counts by name as "a=3,b=1", largest first, or "-" when there are none.</summary>
    public static string Counts(IEnumerable<KeyValuePair<string, int>> counts)
    {
        var text = string.Join(",", counts.OrderByDescending(c => c.Value).ThenBy(c => c.Key, StringComparer.Ordinal).Select(c => $"{c.Key}={c.Value}"));
        return text.Length == 0 ? "-" : text;
    }
}
