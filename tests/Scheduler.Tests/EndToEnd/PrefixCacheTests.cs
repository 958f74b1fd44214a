using Scheduler.Policies.Prefix;
using Scheduler.Protos.V1;

namespace Scheduler.Tests.EndToEnd;

/// <summary>Prefix caching through the live silo and its worker processes over gRPC: a repeated prompt goes back to the
/// replica that ran it, whose simulated engine prefills only what its prefix cache lacks and says so in the usage.</summary>
[Collection(SchedulerClusterCollection.Name)]
public sealed class PrefixCacheTests(SchedulerCluster cluster)
{
    private const int BlockChars = PromptBlocks.DefaultBlockTokens * PromptBlocks.CharsPerToken;

    // A prompt no other test sent: ten full blocks of text and a partial one.
    private static string LongPrompt(string start) =>
        start + " " + string.Join(' ', Enumerable.Range(0, 2_000).Select(i => $"w{i % 97}"))[..((10 * BlockChars) + 100 - start.Length - 1)];

    [Fact]
    public async Task RunJob_RepeatedPrompt_GoesToTheSameReplica_AndReportsCachedPromptTokens()
    {
        await cluster.WaitQuiet();
        using var client = cluster.Tenant(0);
        var prompt = LongPrompt(Guid.NewGuid().ToString("N"));

        var first = await client.RunAsync(new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = prompt, MaxTokens = 4 }, deadline: DateTime.UtcNow.AddMinutes(1));
        var again = await client.RunAsync(new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = prompt, MaxTokens = 4 }, deadline: DateTime.UtcNow.AddMinutes(1));
        var sharedPrefix = prompt[..(6 * BlockChars)] + new string('x', 5 * BlockChars);
        var partial = await client.RunAsync(new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = sharedPrefix, MaxTokens = 4 }, deadline: DateTime.UtcNow.AddMinutes(1));

        Assert.True(first.Succeeded && again.Succeeded && partial.Succeeded, $"{first.Error} {again.Error} {partial.Error}");
        Assert.Equal(0, first.Usage!.CachedPromptTokens);
        Assert.Equal(Math.Min(10 * PromptBlocks.DefaultBlockTokens, again.Usage!.PromptTokens - 1), again.Usage.CachedPromptTokens);
        Assert.Equal(Math.Min(6 * PromptBlocks.DefaultBlockTokens, partial.Usage!.PromptTokens - 1), partial.Usage.CachedPromptTokens);

        var firstJob = await client.GetAsync(first.JobId);
        var againJob = await client.GetAsync(again.JobId);
        Assert.Equal(firstJob.Placement.ReplicaId, againJob.Placement.ReplicaId);
        Assert.Equal(again.Usage.CachedPromptTokens, againJob.Usage.CachedPromptTokens);

        // SREs see the placement's index of that replica's cache: at least this prompt's ten blocks.
        using var admin = cluster.Admin();
        var replica = (await admin.ListReplicasAsync(SchedulerCluster.Model)).Single(r => r.ReplicaId == firstJob.Placement.ReplicaId);
        Assert.InRange(replica.CachedPrefixBlocks, 10, int.MaxValue);
    }
}
