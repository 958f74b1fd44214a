using Scheduler.Client;
using Scheduler.Protos.V1;
using Xunit.Abstractions;

namespace Scheduler.Tests.Faults;

/// <summary>What every fault test proves of its load: each submission became one job, and each job completed once,
/// whole, with the same text on the client's stream as in its record.</summary>
internal static class FaultChecks
{
    public static async Task EveryJobCompletedExactlyOnce(FaultCluster cluster, FaultLoad load, int jobs, ITestOutputHelper output)
    {
        var results = load.Results.OrderBy(r => r.Index).ToList();
        var failures = results.Where(r => r.Error is not null || r.Result is not { Succeeded: true }).ToList();
        foreach (var failure in failures.Take(5))
        {
            await DescribeFailure(cluster, failure, output);
        }

        Assert.True(failures.Count == 0,
            $"{failures.Count} of {jobs} jobs did not complete; first: " +
            string.Join(" | ", failures.Take(3).Select(f => f.Error?.Message ?? $"{f.Result!.Status} {f.Result.Error}")));
        Assert.Equal(jobs, results.Count);
        Assert.Equal(Enumerable.Range(0, jobs), results.Select(r => r.Index));

        // One job per idempotency key: a retried submission never became a second job.
        Assert.Equal(jobs, results.Select(r => r.Result!.JobId).Distinct().Count());

        // Every token exactly once on the client's side, and the same text as the job's record.
        var wrongCount = results.Where(r => r.Result!.TokenCount != r.MaxTokens).ToList();
        foreach (var wrong in wrongCount.Take(5))
        {
            await DescribeWrongCount(cluster, wrong, output);
        }

        Assert.True(wrongCount.Count == 0, $"{wrongCount.Count} jobs streamed the wrong number of tokens, e.g. job {wrongCount.FirstOrDefault()?.Index}");
        var mismatched = 0;
        foreach (var r in results)
        {
            var record = await ReadRecord(cluster, r.Tenant, r.Result!.JobId);
            if (record.Status != JobStatus.Completed || record.Usage.CompletionTokens != r.MaxTokens || record.Output != r.Result.Text)
            {
                mismatched++;
            }
        }

        Assert.Equal(0, mismatched);
        output.WriteLine($"{jobs} jobs: all completed once; {results.Sum(r => r.Result!.Reconnects)} client reconnects; " +
            $"{results.Sum(r => r.Result!.RepeatedTokensDropped)} repeated tokens received and dropped by clients");
    }

    /// <summary>
    /// Reads a job's record through the first silo still running, and through the next one if that silo goes away while
    /// asked: after a kill, failure detection may still evict a survivor (a loaded 2-core box, docs/reliability.md),
    /// which then ends itself; a client would reconnect to another silo, and so does the check. A silo that stays up may
    /// answer UNAVAILABLE ("retry the same request") for a while after a kill (ci150: the last of three, asked once the
    /// load ended after the second kill, on a machine loaded by a build beside the run; most likely before it had found
    /// the killed silo dead — not established): it is asked again, as a client would, for at most
    /// <see cref="s_refusalBound"/>; refusing longer is the finding.
    /// </summary>
    public static async Task<Job> ReadRecord(FaultCluster cluster, int tenant, string jobId)
    {
        foreach (var silo in cluster.Alive().ToList())
        {
            var refusedSince = (DateTime?)null;
            while (true)
            {
                try
                {
                    using var client = cluster.Tenant(tenant, silo);
                    return await client.GetAsync(jobId, DateTime.UtcNow.AddSeconds(10));
                }
                catch (Grpc.Core.RpcException e) when (e.StatusCode == Grpc.Core.StatusCode.Unavailable)
                {
                    refusedSince ??= DateTime.UtcNow;
                    if (await ExitsWithin(silo, TimeSpan.FromSeconds(2)))
                    {
                        break;
                    }

                    if (DateTime.UtcNow - refusedSince > s_refusalBound)
                    {
                        throw;
                    }
                }
            }
        }

        throw new InvalidOperationException($"no silo left to read job {jobId} from");
    }

    // Failure detection takes seconds here (about 4 s quiet, HostFailureTests), more under load: room for a loaded CI box.
    private static readonly TimeSpan s_refusalBound = TimeSpan.FromSeconds(30);

    private static async Task<bool> ExitsWithin(SiloProcess silo, TimeSpan wait)
    {
        using var exit = new CancellationTokenSource(wait);
        try
        {
            await silo.WaitForExitAsync(exit.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>The job its idempotency key names: a resubmission with another prompt is refused (the request's fingerprint
    /// differs) with the job's id in the message, which is all this needs.</summary>
    private static async Task<string> JobIdOfKey(SchedulerClient client, SubmitJobRequest request)
    {
        try
        {
            return (await client.SubmitAsync(request, DateTime.UtcNow.AddSeconds(10))).JobId;
        }
        catch (Grpc.Core.RpcException ex) when (ex.StatusCode == Grpc.Core.StatusCode.AlreadyExists &&
            System.Text.RegularExpressions.Regex.Match(ex.Status.Detail, "job-[0-9a-f]{32}") is { Success: true } named)
        {
            return named.Value;
        }
    }

    /// <summary>Writes what the cluster knows of a job that did not complete: its record, and every silo log line naming it.
    /// The job is found by resubmitting its idempotency key, which never creates a second one.</summary>
    private static async Task DescribeFailure(FaultCluster cluster, LoadedJob failure, ITestOutputHelper output)
    {
        output.WriteLine($"job {failure.Index} ({failure.IdempotencyKey}) did not complete: {failure.Error?.Message ?? $"{failure.Result!.Status} {failure.Result.Error}"}");
        try
        {
            using var client = cluster.Tenant(failure.Tenant);
            var request = new SubmitJobRequest { Model = FaultCluster.Model, Prompt = "lookup", MaxTokens = failure.MaxTokens, IdempotencyKey = failure.IdempotencyKey };
            var jobId = failure.Result?.JobId ?? await JobIdOfKey(client, request);
            var record = await client.GetAsync(jobId, DateTime.UtcNow.AddSeconds(10));
            output.WriteLine($"  {jobId}: {record.Status}, {record.Usage?.CompletionTokens} tokens, error '{record.Error}'");
            WriteSiloLines(cluster, jobId, output);
        }
        catch (Grpc.Core.RpcException ex)
        {
            output.WriteLine($"  could not look it up: {ex.Status}");
        }
    }

    /// <summary>A job that completed with a token count other than its max_tokens: what its client received, event by
    /// event (token chunks as their index ranges), against its record, and what the silos logged of it — enough to
    /// tell a short run (the record short too: a node link's count) from tokens lost on the way (the record whole).</summary>
    private static async Task DescribeWrongCount(FaultCluster cluster, LoadedJob wrong, ITestOutputHelper output)
    {
        var result = wrong.Result!;
        output.WriteLine($"job {wrong.Index} ({result.JobId}): {result.TokenCount} tokens received of {wrong.MaxTokens}, " +
            $"{result.Reconnects} reconnects, {result.RepeatedTokensDropped} repeated tokens dropped; events: " +
            string.Join(" ", result.Events.Select(e => e.EventCase == JobEvent.EventOneofCase.Tokens
                ? $"[{e.Tokens.FirstTokenIndex},{e.Tokens.FirstTokenIndex + e.Tokens.TokenCount})"
                : e.EventCase == JobEvent.EventOneofCase.Completed ? $"Completed({e.Completed.Usage?.CompletionTokens})" : e.EventCase.ToString())));
        try
        {
            var record = await ReadRecord(cluster, wrong.Tenant, result.JobId);
            output.WriteLine($"  record: {record.Status}, {record.Usage?.CompletionTokens} tokens, output {record.Output.Length} characters " +
                $"(the client's {result.Text.Length}), {(record.Output == result.Text ? "same text" : "other text")}");
        }
        catch (Grpc.Core.RpcException ex)
        {
            output.WriteLine($"  could not read its record: {ex.Status}");
        }

        WriteSiloLines(cluster, result.JobId, output);
    }

    private static void WriteSiloLines(FaultCluster cluster, string jobId, ITestOutputHelper output)
    {
        foreach (var silo in cluster.Silos)
        {
            foreach (var line in silo.Output.Where(l => l.Contains(jobId, StringComparison.Ordinal)))
            {
                output.WriteLine($"  silo {silo.Index}: {line}");
            }
        }
    }
}
