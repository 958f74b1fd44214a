using Scheduler.Client;
using Scheduler.Protos.V1;

namespace Scheduler.Cli;

/// <summary>What schedctl prints about a job.</summary>
internal static class JobOutput
{
    /// <summary>Streams a job's tokens to stdout, then reports its outcome on stderr.</summary>
    /// <param name="stream">Runs the stream, writing each new token chunk, and its notes, through the given writer.</param>
    /// <returns>The exit code.</returns>
    public static async Task<int> StreamAsync(Func<TokenWriter, Task<JobResult>> stream)
    {
        var tokens = new TokenWriter();
        JobResult result;
        try
        {
            result = await stream(tokens);
        }
        finally
        {
            tokens.EndLine();
        }

        return await ReportAsync(result);
    }

    /// <summary>Prints a job in the <paramref name="output"/> format: as JSON, the Job message (see <see cref="Output"/>);
    /// otherwise its fields, one per line.</summary>
    public static void Print(Job job, string output)
    {
        if (output == Output.Json)
        {
            Console.WriteLine(Output.ToJson(job));
            return;
        }

        PrintFields(job);
    }

    private static void PrintFields(Job job) => Table.PrintPairs(
    [
        ("job", job.JobId),
        ("tenant", job.TenantId),
        ("model", job.Model),
        ("status", Format.Status(job.Status)),
        ("priority", Format.Priority(job.Priority)),
        ("submitted", Format.Time(job.SubmittedAt)),
        ("deadline", job.Deadline is null ? "-" : Format.Time(job.Deadline)),
        ("prompt tokens", PromptTokenFigures.Described(job)),
        ("max tokens", Format.Number(job.MaxTokens)),
        ("placement", Placement(job.Placement)),
        ("usage", job.Usage is null ? "-" : Usage(job.Usage)),
        ("finish reason", Format.OrDash(job.FinishReason)),
        ("error", Format.OrDash(job.Error)),
        ("hand-backs", job.HandBacks == 0 ? "-" : $"{Format.Number(job.HandBacks)}, the last: {job.LastHandBackError}"),
        ("re-queued", job.Requeues == 0 ? "-" : $"{Format.Number(job.Requeues)}, the last {job.LastRequeue}"),
        ("output", Format.OrDash(job.Output)),
    ]);

    private static async Task<int> ReportAsync(JobResult result)
    {
        switch (result.Status)
        {
            case JobStatus.Completed:
                await Console.Error.WriteLineAsync(Summary(result));
                return ExitCodes.Ok;
            case JobStatus.Cancelled:
                await Console.Error.WriteLineAsync(Summary(result));
                return ExitCodes.Failed;
            case JobStatus.Failed or JobStatus.Expired:
                await Console.Error.WriteLineAsync($"error: job {result.JobId} {Format.Status(result.Status)}: {result.Error}");
                return ExitCodes.Failed;
            default:
                await Console.Error.WriteLineAsync(
                    $"error: the stream ended while job {result.JobId} was {Format.Status(result.Status)}");
                return ExitCodes.Failed;
        }
    }

    private static string Summary(JobResult result)
    {
        var usage = result.Usage is null
            ? $"completion_tokens={result.TokenCount}"
            : Usage(result.Usage);
        return $"job={result.JobId} {Placement(result.Placement)} {usage} finish={result.FinishReason}";
    }

    private static string Placement(Placement? placement) => placement is null
        ? "replica=- accelerator=-"
        : $"replica={placement.ReplicaId} accelerator={placement.AcceleratorId} " +
          $"product={placement.AcceleratorProduct} node={placement.NodeId}";

    private static string Usage(Usage usage) =>
        $"prompt_tokens={PromptTokenFigures.Of(usage.PromptTokens, usage.PromptTokensSource)} completion_tokens={usage.CompletionTokens} " +
        $"cost_usd={Format.Dollars(usage.CostUsd)} queue_ms={Format.Number(usage.QueueMs, 1)} " +
        $"ttft_ms={Format.Number(usage.TtftMs, 1)} total_ms={Format.Number(usage.TotalMs, 1)}";
}
