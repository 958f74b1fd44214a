using Scheduler.Protos.V1;

namespace Scheduler.Cli;

/// <summary>One line of <c>schedctl jobs</c>: what is shown, as values, before it is formatted (so another output
/// format can print the same rows).</summary>
internal sealed record JobRow(
    string JobId, string Tenant, string Model, string Status, string Priority, DateTime SubmittedAt,
    int PromptTokens, int MaxTokens, double? QueueMs, double? TtftMs, string? Replica, string? Product, string? Error)
{
    public static JobRow Of(Job job) => new(
        job.JobId, job.TenantId, job.Model, Format.Status(job.Status), Format.Priority(job.Priority), job.SubmittedAt.ToDateTime(),
        job.PromptTokens, job.MaxTokens,
        job.Usage is { } u && job.Status is JobStatus.Completed or JobStatus.Failed or JobStatus.Cancelled or JobStatus.Expired ? u.QueueMs : null,
        job.Usage is { TtftMs: > 0 } t ? t.TtftMs : null,
        job.Placement?.ReplicaId, job.Placement?.AcceleratorProduct,
        job.Error.Length > 0 ? job.Error : null);

    public static void Print(IReadOnlyList<JobRow> rows, string nextPageToken)
    {
        var table = new Table("JOB", "TENANT", "MODEL", "STATUS", "PRIORITY", "SUBMITTED", "TOKENS", "QUEUE MS", "TTFT MS", "REPLICA", "PRODUCT");
        foreach (var r in rows)
        {
            table.Add(
                r.JobId, r.Tenant, r.Model, r.Status, r.Priority, Format.Time(r.SubmittedAt),
                $"{r.PromptTokens}+{r.MaxTokens}",
                r.QueueMs is { } q ? Format.Number(q, 0) : "-",
                r.TtftMs is { } t ? Format.Number(t, 0) : "-",
                r.Replica ?? "-", r.Product ?? "-");
        }

        table.Print();
        if (nextPageToken.Length > 0)
        {
            Console.WriteLine($"more: --page-token {nextPageToken}");
        }
    }
}
