using Scheduler.Client;
using Scheduler.Protos.V1;

namespace Scheduler.Tests.EndToEnd;

[Collection(SchedulerClusterCollection.Name)]
public sealed class JobFlowTests(SchedulerCluster cluster)
{
    [Fact]
    public async Task StreamJob_ThreeTenants300MixedJobs_AllCompleteWithExactTokensInContinuousBatches()
    {
        using var admin = cluster.Admin();
        await cluster.WaitQuiet();
        var before = (await admin.ListTenantsAsync()).ToDictionary(t => t.TenantId);
        var clients = Enumerable.Range(0, 3).Select(cluster.Tenant).ToArray();
        var random = new Random(20261126);
        var jobs = Enumerable.Range(0, 300).Select(i =>
        {
            var promptTokens = random.Next(16, 1500);
            var maxTokens = random.Next(1, 96);
            var request = new SubmitJobRequest { Model = SchedulerCluster.Model, MaxTokens = maxTokens };
            request.PromptTokenIds.AddRange(Enumerable.Range(0, promptTokens).Select(t => (t * 7) % 50_000));
            return (Tenant: i % 3, Request: request);
        }).ToList();

        // All 300 streams at once: more than the fleet's slots and KV cache hold, so jobs queue.
        var results = await Task.WhenAll(jobs.GroupBy(j => j.Tenant).Select(async g =>
        {
            using var gate = new SemaphoreSlim(100);
            return await Task.WhenAll(g.Select(async job =>
            {
                await gate.WaitAsync();
                try
                {
                    var result = await clients[job.Tenant].RunAsync(job.Request, deadline: DateTime.UtcNow.AddMinutes(3));
                    return (job.Tenant, job.Request, Result: result);
                }
                finally
                {
                    gate.Release();
                }
            }));
        }));
        var all = results.SelectMany(r => r).ToList();

        foreach (var (_, request, result) in all)
        {
            Assert.True(result.Succeeded, $"{result.JobId}: {result.Status} {result.Error}");
            Assert.Equal(request.MaxTokens, result.TokenCount);
            Assert.Equal("length", result.FinishReason);
            Assert.Equal(request.PromptTokenIds.Count, result.Usage!.PromptTokens);
            Assert.Equal(request.MaxTokens, result.Usage.CompletionTokens);
            Assert.True(result.Usage.TtftMs <= result.Usage.TotalMs);
            Assert.True(result.Usage.CostUsd > 0);

            // Token chunks arrived once each, in order, with nothing missing.
            var chunks = result.Events.Where(e => e.EventCase == JobEvent.EventOneofCase.Tokens).Select(e => e.Tokens).ToList();
            Assert.Equal(Enumerable.Range(0, request.MaxTokens), ExpandIndexes(chunks));
        }

        // Usage adds up per tenant.
        var after = (await admin.ListTenantsAsync()).ToDictionary(t => t.TenantId);
        for (var t = 0; t < 3; t++)
        {
            var id = SchedulerCluster.Tenants[t].Id;
            var mine = all.Where(r => r.Tenant == t).ToList();
            Assert.Equal(mine.Sum(r => r.Request.PromptTokenIds.Count), after[id].Usage.PromptTokens - before[id].Usage.PromptTokens);
            Assert.Equal(mine.Sum(r => r.Request.MaxTokens), after[id].Usage.CompletionTokens - before[id].Usage.CompletionTokens);
            Assert.Equal(100, after[id].Usage.JobsCompleted - before[id].Usage.JobsCompleted);
            Assert.Equal(mine.Sum(r => r.Result.Usage!.CostUsd), after[id].Usage.CostUsd - before[id].Usage.CostUsd, 9);
        }

        // Continuous batching: jobs joined batches that already had running sequences...
        Assert.Contains(all, r => r.Result.Placement!.RunningSequencesAtAdmission > 0);
        var replicas = await WaitIdle(admin);
        Assert.True(replicas.Sum(r => r.AdmissionsIntoRunningBatch) > 0);

        // ...and no replica ever held more than its slots or KV cache, as its engine measured it.
        foreach (var r in replicas)
        {
            Assert.Equal(0, r.EngineRejectedAdmissions);
            Assert.InRange(r.EnginePeakSequences, 0, r.MaxSequences);
            Assert.InRange(r.EnginePeakKvTokens, 0, r.KvCapacityTokens);
        }

        // The fleet was really full at some point: some replica reached its slot limit or nearly filled its KV cache.
        Assert.Contains(replicas, r => r.EnginePeakSequences == r.MaxSequences || r.EnginePeakKvTokens > r.KvCapacityTokens * 0.9);
    }

    [Fact]
    public async Task StreamJob_300ConcurrentStreamsOnOneChannel_EachSeesQueuedAdmittedTokensInOrderThenItsEnd()
    {
        // Event order is part of the contract: queued, admitted, tokens in order, one end. Checked on every stream.
        const int Streams = 300;
        const int MaxTokens = 6;
        using var client = cluster.Tenant(1);
        var deadline = DateTime.UtcNow.AddSeconds(90);
        var violations = await Task.WhenAll(Enumerable.Range(0, Streams).Select(async i =>
        {
            var events = new List<JobEvent>();
            await foreach (var e in client.StreamAsync(new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "order " + i, MaxTokens = MaxTokens }, deadline))
            {
                events.Add(e);
            }

            return OrderViolation(events, MaxTokens);
        }));

        Assert.All(violations, Assert.Null);
    }

    [Fact]
    public async Task StreamJob_PromptOf100kTokens_RunsOnAReplicaWhoseKvCacheHoldsIt()
    {
        using var client = cluster.Tenant(0);
        var request = new SubmitJobRequest { Model = SchedulerCluster.Model, MaxTokens = 8 };
        request.PromptTokenIds.AddRange(Enumerable.Range(0, 100_000).Select(i => i % 50_000));

        var result = await client.RunAsync(request, deadline: DateTime.UtcNow.AddSeconds(60));

        Assert.True(result.Succeeded, $"{result.Status} {result.Error}");
        Assert.Equal(100_000, result.Usage!.PromptTokens);
        Assert.Equal(8, result.TokenCount);

        // An L4 replica's KV cache holds 60,000 tokens: the job can only have run on the H100 or the A100.
        Assert.True(result.Placement!.AcceleratorProduct is "H100" or "A100", result.Placement.AcceleratorProduct);
    }

    /// <summary>What is wrong with one stream's order of events, or null.</summary>
    internal static string? OrderViolation(List<JobEvent> events, int tokens)
    {
        var kinds = string.Join(",", events.Select(e => e.EventCase));
        if (events.Count == 0 || events[0].EventCase != JobEvent.EventOneofCase.Queued)
        {
            return "does not start with queued: " + kinds;
        }

        var admitted = false;
        var next = 0;
        for (var i = 1; i < events.Count; i++)
        {
            var e = events[i];
            switch (e.EventCase)
            {
                case JobEvent.EventOneofCase.Admitted:
                    admitted = true;
                    break;
                case JobEvent.EventOneofCase.Tokens when admitted && e.Tokens.FirstTokenIndex == next:
                    next += e.Tokens.TokenCount;
                    break;
                case JobEvent.EventOneofCase.Completed when i == events.Count - 1 && next == tokens:
                    break;
                default:
                    return $"{e.EventCase} at event {i} of {e.JobId} (admitted {admitted}, next token {next}): {kinds}";
            }
        }

        return events[^1].EventCase == JobEvent.EventOneofCase.Completed ? null : "does not end completed: " + kinds;
    }

    [Fact]
    public async Task GetJob_AfterCompletion_ReturnsOutputAndUsage()
    {
        using var client = cluster.Tenant(0);
        var result = await client.RunAsync(new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "Hello there, scheduler.", MaxTokens = 12 });
        var job = await client.GetAsync(result.JobId);
        Assert.Equal(JobStatus.Completed, job.Status);
        Assert.Equal(result.Text, job.Output);
        Assert.Equal(12, job.Usage.CompletionTokens);
        Assert.Equal(result.Usage!.PromptTokens, job.PromptTokens);
    }

    [Fact]
    public async Task WatchJob_FromTokenOffset_ReplaysTheRestWithoutDuplicates()
    {
        using var client = cluster.Tenant(1);
        var submitted = await client.SubmitAsync(new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "Count slowly.", MaxTokens = 40 });
        var full = await client.AttachAsync(submitted.JobId);
        Assert.Equal(40, full.TokenCount);

        var tail = await client.AttachAsync(submitted.JobId, fromToken: 25);
        Assert.Equal(15, tail.TokenCount);
        Assert.EndsWith(tail.Text, full.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SubmitJob_SameIdempotencyKey_ReturnsTheSameJob()
    {
        using var client = cluster.Tenant(2);
        var request = new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "once", MaxTokens = 4, IdempotencyKey = "e2e-" + Guid.NewGuid() };
        var first = await client.SubmitAsync(request);
        var second = await client.SubmitAsync(request);
        Assert.Equal(first.JobId, second.JobId);
        Assert.True((await client.AttachAsync(first.JobId)).Succeeded);
    }

    [Fact]
    public async Task StreamJob_RetriedWithItsIdempotencyKey_StreamsTheSameJobInTheContractsOrder()
    {
        // A retry's stream is the same job's, from `queued` as the contract says: it had started at `admitted`, which a
        // client reading the first event as the acceptance took for a broken stream (found by an outside-client probe).
        const int MaxTokens = 4;
        using var client = cluster.Tenant(2);
        var request = new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "retried", MaxTokens = MaxTokens, IdempotencyKey = "e2e-" + Guid.NewGuid() };
        var deadline = DateTime.UtcNow.AddSeconds(30);

        var first = new List<JobEvent>();
        await foreach (var e in client.StreamAsync(request, deadline))
        {
            first.Add(e);
        }

        var retry = new List<JobEvent>();
        await foreach (var e in client.StreamAsync(request, deadline))
        {
            retry.Add(e);
        }

        Assert.Null(OrderViolation(first, MaxTokens));
        Assert.Null(OrderViolation(retry, MaxTokens));
        Assert.Equal(first[0].JobId, retry[0].JobId);
    }

    private static async Task<IReadOnlyList<Replica>> WaitIdle(SchedulerAdminClient admin)
    {
        // The engines report capacity at most every 250 ms while busy, and always when they go idle.
        for (var i = 0; i < 100; i++)
        {
            var replicas = await admin.ListReplicasAsync(SchedulerCluster.Model);
            if (replicas.All(r => r.RunningSequences == 0 && r.EngineRunningSequences == 0))
            {
                return replicas;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException("replicas did not go idle");
    }

    private static IEnumerable<int> ExpandIndexes(IEnumerable<TokenChunk> chunks) =>
        chunks.SelectMany(c => Enumerable.Range(c.FirstTokenIndex, c.TokenCount));
}
