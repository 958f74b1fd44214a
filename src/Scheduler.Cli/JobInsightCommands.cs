using System.CommandLine;
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

    /// <summary>The columns of <c>schedctl jobs</c>; <c>-o wide</c> adds how often it went back to its queue and how it
    /// ended. REPLICA is where it runs or ran last; a queued job has none, even one re-queued after its node was lost. PROMPT is the engine's count once it
    /// reported one, else the scheduler's, <c>~</c> marking an estimate (<see cref="PromptTokenFigures"/>).</summary>
    public static readonly Listing<Job> Rows = new(
        new("JOB", j => j.JobId),
        new("TENANT", j => j.TenantId),
        new("MODEL", j => j.Model),
        new("STATUS", j => Format.Status(j.Status)),
        new("PRIORITY", j => Format.Priority(j.Priority)),
        new("SUBMITTED", j => Format.Time(j.SubmittedAt)),
        new("PROMPT", PromptTokenFigures.Of),
        new("OUTPUT", Format.Output),
        new("QUEUE MS", j => j.Usage is { } u && Format.IsEnded(j.Status) ? Format.Number(u.QueueMs, 0) : "-"),
        new("TTFT MS", j => j.Usage is { TtftMs: > 0 } u ? Format.Number(u.TtftMs, 0) : "-"),
        new("REPLICA", j => Format.OrDash(j.Placement?.ReplicaId ?? "")),
        new("PRODUCT", j => Format.OrDash(j.Placement?.AcceleratorProduct ?? "")),
        new("REQUEUES", j => Format.Number(j.Requeues), WideOnly: true),
        new("FINISH", j => Format.OrDash(j.FinishReason), WideOnly: true),
        new("ERROR", j => Format.OrDash(j.Error), WideOnly: true));

    /// <summary>Adds the commands to <paramref name="root"/>.</summary>
    public static void AddTo(RootCommand root)
    {
        root.Add(Jobs());
        root.Add(Explain());
    }

    private static Command Jobs()
    {
        var tenant = new Option<string>("--tenant") { Description = "Only this tenant's jobs" }.Fills("tenant_id");
        var model = new Option<string>("--model") { Description = "Only jobs for this model" }.Fills("model");
        var status = new Option<string[]>("--status")
        {
            Description = $"Only jobs in these statuses, comma-separated or repeated ({string.Join(", ", Statuses.Keys)})",
            AllowMultipleArgumentsPerToken = true,
        }.Fills("statuses");
        var priority = new Option<string>("--priority") { Description = "Only this priority class (critical, standard, sheddable)" }.Fills("priority");
        priority.AcceptOnlyFromAmong("critical", "standard", "sheddable");
        var since = TimeOption.Create("--since", "Only jobs submitted since then").Fills("submitted_since");
        var until = TimeOption.Create("--until", "Only jobs submitted until then").Fills("submitted_until");
        var limit = new Option<int>("--limit") { Description = "Jobs per page (1..500)", DefaultValueFactory = _ => 50 }.Fills("page_size");
        limit.Within(1, 500, "between 1 and 500");
        var pageToken = new Option<string>("--page-token") { Description = "Go on from where a previous page stopped" }.Fills("page_token");
        var output = Output.Create();
        var mine = new Option<bool>("--mine") { Description = "List with the tenant key (--key): the tenant's own jobs; otherwise the admin key lists any tenant's" };
        var command = new Command("jobs", "Find jobs: newest first, filtered by tenant, model, status, priority and submission time")
        {
            tenant, model, status, priority, since, until, limit, pageToken, mine, output,
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
            if (parse.GetValue(since) is { } from)
            {
                request.SubmittedSince = Timestamp.FromDateTimeOffset(from);
            }

            if (parse.GetValue(until) is { } to)
            {
                request.SubmittedUntil = Timestamp.FromDateTimeOffset(to);
            }

            return request;
        }

        command.SetAction((parse, cancellationToken) => parse.GetValue(mine)
            ? Actions.RunWithClient(parse, async client =>
            {
                Print(await FilledJobPage.Read(Request(parse), r => client.ListAsync(r, cancellationToken: cancellationToken)), parse.GetRequiredValue(output));
            }, cancellationToken)
            : Actions.RunWithAdmin(parse, async admin =>
            {
                Print(await FilledJobPage.Read(Request(parse), r => admin.ListJobsAsync(r, cancellationToken: cancellationToken)), parse.GetRequiredValue(output));
            }, cancellationToken));
        return command;
    }

    /// <summary>A page of jobs (<see cref="FilledJobPage"/>); as JSON, the whole response (<c>jobs</c> and <c>nextPageToken</c>), so a script can page.</summary>
    private static void Print(ListJobsResponse page, string output)
    {
        if (output == Output.Json)
        {
            Console.WriteLine(Output.ToJson(page));
            return;
        }

        Rows.Print(page.Jobs, output);
        if (page.NextPageToken.Length > 0)
        {
            Console.WriteLine($"more: --page-token {page.NextPageToken}");
        }
    }

    private static Command Explain()
    {
        var id = IdArguments.Job();
        var output = Output.Create();
        output.Description = "Output format: table or wide (the timeline), or json (the JobExplanation message)";
        var command = new Command("explain", "Explain a job: when it was queued, why it waited, what was weighed, where it went and how it ended") { id, output };
        Actions.SetAdminAction(command, async (admin, parse, cancellationToken) =>
        {
            var explanation = await admin.ExplainJobAsync(parse.GetRequiredValue(id), cancellationToken: cancellationToken);
            if (parse.GetRequiredValue(output) == Output.Json)
            {
                Console.WriteLine(Output.ToJson(explanation));
            }
            else
            {
                JobTimeline.Of(explanation).Print();
            }
        });
        return command;
    }

    private static IEnumerable<JobStatus> ParseStatuses(string[] values) =>
        values.SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Select(v => Statuses.TryGetValue(v.ToLowerInvariant(), out var s)
                ? s
                : throw new ArgumentException($"--status: '{v}' is not one of {string.Join(", ", Statuses.Keys)}"));
}
