using System.Globalization;
using Scheduler.Protos.V1;

namespace Scheduler.Cli;

/// <summary>
/// <c>schedctl explain</c>'s model: a job's header and its placement's events as a timeline, each line timed from the
/// job's submission, then its end as its record has it. Built first, printed after.
/// </summary>
internal sealed record JobTimeline(string Header, string Summary, IReadOnlyList<JobTimeline.Line> Lines)
{
    /// <summary>One line of the timeline; <paramref name="Candidates"/> are printed under an admission.</summary>
    internal sealed record Line(TimeSpan Offset, string Kind, string Text, IReadOnlyList<WeighedReplicaClass> Candidates);

    public static JobTimeline Of(JobExplanation e)
    {
        var job = e.Job;
        var submitted = job.SubmittedAt.ToDateTime();
        var header = $"job {job.JobId}  tenant {job.TenantId}  model {job.Model}  {Format.Priority(job.Priority)}  prompt {PromptTokenFigures.Of(job)} tokens  output {Format.Output(job)}  → {Format.Status(job.Status)}"
            + (job.FinishReason.Length > 0 ? $" ({job.FinishReason})" : "");
        var summary = $"submitted {Format.Time(job.SubmittedAt)}"
            + (job.Usage is { } u ? $"  queue {Seconds(u.QueueMs)}  ttft {Seconds(u.TtftMs)}  total {Seconds(u.TotalMs)}  cost {Format.Usd(u.CostUsd)}" : "")
            + (e.HasQueuePosition ? $"  now at queue position {e.QueuePosition}" : "");
        var lines = new List<Line>();
        foreach (var ev in e.Events)
        {
            lines.Add(new Line(ev.At.ToDateTime() - submitted, ev.Kind.Replace('_', ' '), Text(ev, submitted), ev.Candidates));
        }

        if (job.Status is JobStatus.Completed or JobStatus.Failed or JobStatus.Cancelled && job.Usage is { } end)
        {
            var text = job.Error.Length > 0 ? job.Error : $"{end.CompletionTokens} tokens generated" + (job.FinishReason.Length > 0 ? $", finish reason {job.FinishReason}" : "");
            lines.Add(new Line(TimeSpan.FromMilliseconds(end.TotalMs), Format.Status(job.Status), text, []));
        }

        return new JobTimeline(header, summary, lines);
    }

    public void Print()
    {
        Console.WriteLine(Header);
        Console.WriteLine(Summary);
        Console.WriteLine();
        foreach (var line in Lines)
        {
            Console.WriteLine($"  {Offset(line.Offset),9}  {line.Kind,-11}  {line.Text}");
            if (line.Candidates.Count > 0)
            {
                var table = new Table("", "CLASS", "SLOTS", "RUNNING", "WEIGHED", "PRED TTFT MS", "PRED COST $", "OBJECTIVE");
                foreach (var c in line.Candidates)
                {
                    table.Add(c.Chosen ? "               →" : "", c.Product, Format.Number(c.MaxSequences), Format.Number(c.RunningSequences),
                        Format.Number(c.ReplicasWeighed), Format.Number(c.PredictedTtftMs, 0), Format.Dollars(c.PredictedCostUsd), c.MeetsObjective ? "met" : "missed");
                }

                table.Print();
            }
        }
    }

    private static string Text(JobTraceEvent ev, DateTime submitted)
    {
        var text = ev.Kind switch
        {
            "waiting" => $"{ev.Reason.Replace('_', ' ')}: {ev.Detail}"
                + (ev.Count > 0 ? $" — {ev.Count} round{(ev.Count == 1 ? "" : "s")}" : "")
                + (ev.LastAt is { } last && ev.Count > 1 ? $", until {Offset(last.ToDateTime() - submitted)}" : ""),
            _ => ev.Detail,
        };
        return ev.Kind == "admitted" && ev.Placement is { } p ? $"→ {p.ReplicaId} ({p.AcceleratorProduct}, node {p.NodeId}, joined {p.RunningSequencesAtAdmission} running): {text}" : text;
    }

    private static string Offset(TimeSpan t) => "+" + t.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture) + "s";

    private static string Seconds(double ms) => (ms / 1000).ToString("0.000", CultureInfo.InvariantCulture) + " s";
}
