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
        Assert.True(failures.Count == 0,
            $"{failures.Count} of {jobs} jobs did not complete; first: " +
            string.Join(" | ", failures.Take(3).Select(f => f.Error?.Message ?? $"{f.Result!.Status} {f.Result.Error}")));
        Assert.Equal(jobs, results.Count);
        Assert.Equal(Enumerable.Range(0, jobs), results.Select(r => r.Index));

        // One job per idempotency key: a retried submission never became a second job.
        Assert.Equal(jobs, results.Select(r => r.Result!.JobId).Distinct().Count());

        // Every token exactly once on the client's side, and the same text as the job's record.
        var wrongCount = results.Where(r => r.Result!.TokenCount != r.MaxTokens).ToList();
        Assert.True(wrongCount.Count == 0, $"{wrongCount.Count} jobs streamed the wrong number of tokens, e.g. job {wrongCount.FirstOrDefault()?.Index}");
        var mismatched = 0;
        foreach (var group in results.GroupBy(r => r.Tenant))
        {
            using var client = cluster.Tenant(group.Key);
            foreach (var r in group)
            {
                var record = await client.GetAsync(r.Result!.JobId, DateTime.UtcNow.AddSeconds(10));
                if (record.Status != JobStatus.Completed || record.Usage.CompletionTokens != r.MaxTokens || record.Output != r.Result.Text)
                {
                    mismatched++;
                }
            }
        }

        Assert.Equal(0, mismatched);
        output.WriteLine($"{jobs} jobs: all completed once; {results.Sum(r => r.Result!.Reconnects)} client reconnects; " +
            $"{results.Sum(r => r.Result!.RepeatedTokensDropped)} repeated tokens received and dropped by clients");
    }
}
