using System.CommandLine;
using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using Scheduler.Protos.V1;

namespace Scheduler.Cli;

/// <summary>An SRE's commands on jobs: <c>jobs</c> (find them) and <c>explain</c> (why one waited and where it went).</summary>
internal static class JobInsightCommands
{
    private static readonly Dictionary<string, JobStatus> Statuses = new()
    {
        ["queued"] = JobStatus.Queued,
        ["running"] = JobStatus.Running,
        ["completed"] = JobStatus.Completed,
        ["failed"] = JobStatus.Failed,
        ["cancelled"] = JobStatus.Cancelled,
        ["expired"] = JobStatus.Expired,
        ["cancelling"] = JobStatus.Cancelling,
    };

    /// <summary>Adds the commands to <paramref name="root"/>.</summary>
    public static void AddTo(RootCommand root)
    {
        root.Add(Jobs());
        root.Add(Explain());
    }

    private static Command Jobs()
    {
        var tenant = new Option<string>("--tenant") { Description = "Only this tenant's jobs" };
        var model = new Option<string>("--model") { Description = "Only jobs for this model" };
        var status = new Option<string[]>("--status")
        {
            Description = $"Only jobs in these statuses, comma-separated or repeated ({string.Join(", ", Statuses.Keys)})",
            AllowMultipleArgumentsPerToken = true,
        };
        var priority = new Option<string>("--priority") { Description = "Only this priority class (critical, standard, sheddable)" };
        priority.AcceptOnlyFromAmong("critical", "standard", "sheddable");
        var since = new Option<string>("--since") { Description = "Only jobs submitted since: an age (90s, 10m, 2h, 1d) or a UTC time (2026-12-02T04:00:00Z)" };
        var until = new Option<string>("--until") { Description = "Only jobs submitted until: an age or a UTC time" };
        var limit = new Option<int>("--limit") { Description = "Jobs per page (1..500)", DefaultValueFactory = _ => 50 };
        var pageToken = new Option<string>("--page-token") { Description = "Go on from where a previous page stopped" };
        var mine = new Option<bool>("--mine") { Description = "List with the tenant key (--key): the tenant's own jobs; otherwise the admin key lists any tenant's" };
        var command = new Command("jobs", "Find jobs: newest first, filtered by tenant, model, status, priority and submission time")
        {
            tenant, model, status, priority, since, until, limit, pageToken, mine,
        };

        ListJobsRequest Request(ParseResult parse)
        {
            var request = new ListJobsRequest
            {
                TenantId = parse.GetValue(tenant) ?? "",
                Model = parse.GetValue(model) ?? "",
                Priority = parse.GetValue(priority) switch
                {
                    "critical" => Priority.Critical,
                    "standard" => Priority.Standard,
                    "sheddable" => Priority.Sheddable,
                    _ => Priority.Unspecified,
                },
                PageSize = parse.GetValue(limit),
                PageToken = parse.GetValue(pageToken) ?? "",
            };
            request.Statuses.AddRange(ParseStatuses(parse.GetValue(status) ?? []));
            var now = DateTimeOffset.UtcNow;
            if (parse.GetValue(since) is { Length: > 0 } s)
            {
                request.SubmittedSince = Timestamp.FromDateTimeOffset(ParseTime(s, now, "--since"));
            }

            if (parse.GetValue(until) is { Length: > 0 } u)
            {
                request.SubmittedUntil = Timestamp.FromDateTimeOffset(ParseTime(u, now, "--until"));
            }

            return request;
        }

        command.SetAction((parse, cancellationToken) => parse.GetValue(mine)
            ? Actions.RunWithClient(parse, async client =>
            {
                var page = await client.ListAsync(Request(parse), cancellationToken: cancellationToken);
                JobRow.Print([.. page.Jobs.Select(JobRow.Of)], page.NextPageToken);
            }, cancellationToken)
            : Actions.RunWithAdmin(parse, async admin =>
            {
                var page = await admin.ListJobsAsync(Request(parse), cancellationToken: cancellationToken);
                JobRow.Print([.. page.Jobs.Select(JobRow.Of)], page.NextPageToken);
            }, cancellationToken));
        return command;
    }

    private static Command Explain()
    {
        var id = new Argument<string>("job-id") { Description = "The job's id" };
        var command = new Command("explain", "Explain a job: when it was queued, why it waited, what was weighed, where it went and how it ended") { id };
        Actions.SetAdminAction(command, async (admin, parse, cancellationToken) =>
            JobTimeline.Of(await admin.ExplainJobAsync(parse.GetRequiredValue(id), cancellationToken: cancellationToken)).Print());
        return command;
    }

    private static IEnumerable<JobStatus> ParseStatuses(string[] values) =>
        values.SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Select(v => Statuses.TryGetValue(v.ToLowerInvariant(), out var s)
                ? s
                : throw new ArgumentException($"--status: '{v}' is not one of {string.Join(", ", Statuses.Keys)}"));

    /// <summary>An age back from <paramref name="now"/> ("90s", "10m", "2h", "1d") or an absolute time.</summary>
    internal static DateTimeOffset ParseTime(string text, DateTimeOffset now, string option)
    {
        if (text.Length >= 2 && double.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var amount) && amount >= 0)
        {
            TimeSpan? age = text[^1] switch
            {
                's' => TimeSpan.FromSeconds(amount),
                'm' => TimeSpan.FromMinutes(amount),
                'h' => TimeSpan.FromHours(amount),
                'd' => TimeSpan.FromDays(amount),
                _ => null,
            };
            if (age is { } a)
            {
                return now - a;
            }
        }

        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at)
            ? at
            : throw new ArgumentException($"{option}: '{text}' is neither an age (90s, 10m, 2h, 1d) nor a time (2026-12-02T04:00:00Z)");
    }
}
