using System.Text.Json;
using Scheduler.Protos.V1;
using Scheduler.Tests.EndToEnd;
using Scheduler.Tests.EndToEnd.Hostile;

namespace Scheduler.Tests.Cli;

/// <summary>
/// schedctl says who counted a job's prompt tokens, alike in <c>jobs</c>, <c>get</c> and <c>explain</c>: the
/// scheduler's estimate (a text prompt counted at submission) as <c>~N</c>, an exact count — the engine's, or the number
/// of token ids given — as <c>N</c>; JSON says which in <c>promptTokensSource</c>, on the job and on its usage. Against
/// the loopback cluster: its simulated engines take the scheduler's count; a scripted node reports one of its own.
/// </summary>
[Collection(SchedulerClusterCollection.Name)]
public sealed class PromptTokenLabelTests(SchedulerCluster cluster)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task JobViews_TheSchedulersEstimate_IsMarkedWithATilde_AndJsonSaysEstimate()
    {
        using var client = cluster.Tenant(0);
        var job = await client.RunAsync(new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "how many tokens is this prompt", MaxTokens = 2 }, deadline: DateTime.UtcNow + Wait);
        Assert.Equal(JobStatus.Completed, job.Status);
        var counted = (await client.GetAsync(job.JobId)).PromptTokens;
        Assert.True(counted > 0);

        var views = await Views(job.JobId);

        Assert.Contains($" ~{counted} ", views.JobsRow);
        Assert.Contains($"prompt tokens:  ~{counted} (the scheduler's estimate; the engine has not reported its count)", views.Get);
        Assert.Contains($"prompt_tokens=~{counted} ", views.Get);
        Assert.Contains($"  prompt ~{counted} tokens  ", views.ExplainHeader);
        Assert.Equal((counted, "PROMPT_TOKENS_SOURCE_SCHEDULER_ESTIMATE"), Source(views.Json.RootElement));
        Assert.Equal((counted, "PROMPT_TOKENS_SOURCE_SCHEDULER_ESTIMATE"), Source(views.Json.RootElement.GetProperty("usage")));
    }

    [Fact]
    public async Task JobViews_APromptOfTokenIds_IsAnExactCount_NotMarked()
    {
        using var client = cluster.Tenant(0);
        var job = await client.RunAsync(new SubmitJobRequest { Model = SchedulerCluster.Model, PromptTokenIds = { 11, 12, 13, 14, 15 }, MaxTokens = 2 }, deadline: DateTime.UtcNow + Wait);
        Assert.Equal(JobStatus.Completed, job.Status);

        var views = await Views(job.JobId);

        Assert.Contains(" 5 ", views.JobsRow);
        Assert.DoesNotContain("~", views.JobsRow);
        Assert.Contains("prompt tokens:  5 (token ids)", views.Get);
        Assert.Contains("prompt_tokens=5 ", views.Get);
        Assert.Contains("  prompt 5 tokens  ", views.ExplainHeader);
        Assert.Equal((5, "PROMPT_TOKENS_SOURCE_TOKEN_IDS"), Source(views.Json.RootElement));
        Assert.Equal((5, "PROMPT_TOKENS_SOURCE_TOKEN_IDS"), Source(views.Json.RootElement.GetProperty("usage")));
    }

    [Fact]
    public async Task JobViews_TheEnginesCount_IsShownPlain_WithTheEstimateBesideItInGet_AndJsonSaysEngine()
    {
        await using var node = await FakeWorkerNode.StartRegisteredAsync(cluster, "cli-prompt-count", SchedulerCluster.ScriptedModel);
        using var client = cluster.Tenant(0);
        var submitted = await client.SubmitAsync(new SubmitJobRequest { Model = SchedulerCluster.ScriptedModel, Prompt = "counted by the engine", MaxTokens = 1 });
        var estimate = submitted.PromptTokens;
        var seq = (await node.NextAdmit(Wait)).Sequences.Single().SequenceId;

        // The model's own tokenizer counts differently from the catalog's: the engine's count is the job's usage.
        var engineCount = estimate + 17;
        node.Send(new StepReport
        {
            ReplicaId = node.ReplicaId,
            StepMs = 10,
            Tokens = { new SequenceTokens { SequenceId = seq, FirstTokenIndex = 0, Text = "x", TokenCount = 1 } },
            Finished = { new SequenceFinished { SequenceId = seq, Reason = FinishReason.Length, CompletionTokens = 1, PromptTokens = engineCount } },
        });
        await Polling.Until(async () => (await client.GetAsync(submitted.JobId)).Status == JobStatus.Completed, "the scripted job completes", Wait);

        var views = await Views(submitted.JobId);

        Assert.Contains($" {engineCount} ", views.JobsRow);
        Assert.DoesNotContain("~", views.JobsRow);
        Assert.Contains($"prompt tokens:  {engineCount} (the engine's count; the scheduler counted ~{estimate})", views.Get);
        Assert.Contains($"prompt_tokens={engineCount} ", views.Get);
        Assert.Contains($"  prompt {engineCount} tokens  ", views.ExplainHeader);

        // The job's own field stays the scheduler's count (what it scheduled by); the usage holds the engine's.
        Assert.Equal((estimate, "PROMPT_TOKENS_SOURCE_SCHEDULER_ESTIMATE"), Source(views.Json.RootElement));
        Assert.Equal((engineCount, "PROMPT_TOKENS_SOURCE_ENGINE"), Source(views.Json.RootElement.GetProperty("usage")));
    }

    private static (int Tokens, string? Source) Source(JsonElement element) =>
        (element.GetProperty("promptTokens").GetInt32(), element.GetProperty("promptTokensSource").GetString());

    // The job as each view shows it: its row of `jobs`, `get` as text and as JSON, and the header of `explain`.
    private async Task<(string JobsRow, string Get, string ExplainHeader, JsonDocument Json)> Views(string jobId)
    {
        var jobs = await Run("jobs", "--tenant", SchedulerCluster.Tenants[0].Id, "--since", "10m", "--limit", "500");
        Assert.True(jobs.ExitCode == 0, jobs.Stderr);
        var row = Assert.Single(jobs.Stdout.Split('\n'), l => l.StartsWith(jobId, StringComparison.Ordinal));

        var get = await Run("get", jobId, "--key", SchedulerCluster.Tenants[0].Key);
        Assert.True(get.ExitCode == 0, get.Stderr);

        var explain = await Run("explain", jobId);
        Assert.True(explain.ExitCode == 0, explain.Stderr);

        var json = await Run("get", jobId, "--key", SchedulerCluster.Tenants[0].Key, "-o", "json");
        Assert.True(json.ExitCode == 0, json.Stderr);
        return (row, get.Stdout, explain.Stdout.Split('\n')[0], JsonDocument.Parse(json.Stdout));
    }

    private Task<(int ExitCode, string Stdout, string Stderr)> Run(params string[] arguments) =>
        Schedctl.Run(["--address", cluster.Address, "--admin-key", SchedulerCluster.AdminKey, .. arguments]);
}
