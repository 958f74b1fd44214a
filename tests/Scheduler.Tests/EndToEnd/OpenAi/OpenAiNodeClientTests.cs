using System.Text.Json;
using Scheduler.Protos.V1;

namespace Scheduler.Tests.EndToEnd.OpenAi;

/// <summary>
/// The OpenAI-compatible API driven by the official <c>openai</c> npm package: tests/openai-node/check.mjs runs under
/// <c>node</c> against the live silo (streaming and not, errors included) and prints what it saw; this checks the job ids
/// it got over gRPC (<see cref="NodeScript"/>: installed on first use; without node the test fails, it never skips).
/// </summary>
[Collection(SchedulerClusterCollection.Name)]
public sealed class OpenAiNodeClientTests(SchedulerCluster cluster)
{
    // One script folder for both tests: the first to run installs its packages.
    private static readonly NodeScript Script = new("openai-node", "openai");

    [Fact]
    public async Task OpenAiNpmPackage_CompletionsStreamedAndNot_ModelsAndErrors()
    {
        var seen = await RunScript(chat: false);

        Assert.Contains(SchedulerCluster.Model, seen.GetProperty("models").EnumerateArray().Select(m => m.GetString()));
        await AssertOutput(seen.GetProperty("completion"), 7);
        await AssertOutput(seen.GetProperty("streamed"), 20);
        Assert.True(seen.GetProperty("streamed").GetProperty("chunks").GetInt32() >= 3);
        Assert.Equal([401, 404, 400, 400], seen.GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("status").GetInt32()));
    }

    [Fact]
    public async Task OpenAiNpmPackage_ChatCompletionsStreamedAndNot()
    {
        var seen = await RunScript(chat: true);

        await AssertOutput(seen.GetProperty("chat"), 6);
        await AssertOutput(seen.GetProperty("chatStreamed"), 12);
    }

    private async Task<JsonElement> RunScript(bool chat)
    {
        var output = await Script.RunAsync("check.mjs", new Dictionary<string, string>
        {
            ["OPENAI_BASE_URL"] = cluster.OpenAiAddress + "/v1",
            ["OPENAI_API_KEY"] = SchedulerCluster.Tenants[2].Key,
            ["MODEL"] = SchedulerCluster.Model,
            ["SLASHED_MODEL"] = SchedulerCluster.SlashedModel,
            ["CHAT"] = chat ? "1" : "0",
        }, TimeSpan.FromSeconds(120));
        return JsonDocument.Parse(output).RootElement;
    }

    private async Task AssertOutput(JsonElement seen, int tokens)
    {
        using var client = cluster.Tenant(2);
        var job = await client.GetAsync(seen.GetProperty("id").GetString()!);
        Assert.Equal(JobStatus.Completed, job.Status);
        Assert.Equal(tokens, job.Usage.CompletionTokens);
        Assert.Equal(job.Output, seen.GetProperty("text").GetString());
    }
}
