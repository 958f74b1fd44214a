using Microsoft.Extensions.Logging;
using Scheduler.Client;
using Scheduler.Protos.V1;
using Scheduler.Worker.Hosting;

namespace Scheduler.Tests.EndToEnd;

/// <summary>
/// Worker nodes hosted in the silo's process with their execution streams reached in-process, as the standalone
/// reaches its embedded fleet: a job streams every token once, and a node that stops mid-job hands it back to resume
/// on the other node without a token repeated or lost — the guarantees the gRPC link gives, over the in-process one.
/// The nodes still listen and register over loopback gRPC.
/// </summary>
public sealed class InProcessNodeLinkTests : IAsyncLifetime
{
    private const string Model = "llama-3.1-8b";
    private const string TenantKey = "in-process-tenant-key";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private LoopbackScheduler _scheduler = null!;

    public async Task InitializeAsync() =>
        _scheduler = await LoopbackScheduler.StartAsync(Model, "in-process-tenant", TenantKey, "--Scheduler:Scheduling:NodeLease=00:02:00");

    public async Task DisposeAsync() => await _scheduler.DisposeAsync();

    [Fact]
    public async Task RunJob_OverAnInProcessLink_StreamsEveryTokenOnce_WithoutASocket()
    {
        using var nodeLogs = new CapturedLogs();
        await StartNodeAsync("in-process-a", WorkerNodeOptions.InstantSpeedUp, nodeLogs);
        using var client = new SchedulerClient(_scheduler.Address, TenantKey);
        var request = new SubmitJobRequest { Model = Model, MaxTokens = 64 };
        request.PromptTokenIds.AddRange(Enumerable.Range(1, 128));

        var result = await client.RunAsync(request, deadline: DateTime.UtcNow + Timeout);

        Assert.True(result.Succeeded, $"{result.Status} {result.Error}");
        Assert.Equal((64, 0, "in-process-a"), (result.TokenCount, result.RepeatedTokensDropped, result.Placement?.NodeId));
        Assert.Equal(64, result.Usage?.CompletionTokens);

        // The node's only execution stream came from inside the process, not from a loopback address.
        var opened = nodeLogs.Messages.Where(m => m.StartsWith("Execute stream opened by ", StringComparison.Ordinal)).ToList();
        Assert.Equal(["Execute stream opened by in-process"], opened);
    }

    [Fact]
    public async Task NodeStopsMidJob_OverAnInProcessLink_TheJobResumesOnTheOtherNode_NoTokenRepeatedOrLost()
    {
        await StartNodeAsync("in-process-stopping", "1");
        await StartNodeAsync("in-process-staying", "1");
        await _scheduler.WaitForReadyReplicas(Model, count: 2);
        using var admin = new SchedulerAdminClient(_scheduler.Address, LoopbackScheduler.AdminKey);
        using var client = new SchedulerClient(_scheduler.Address, TenantKey);
        var staying = Assert.Single(await admin.ListAcceleratorsAsync(), a => a.NodeId == "in-process-staying");

        // A long job on the node that will stop (the other is cordoned while it is placed).
        var running = await PinnedJob.StartAsync(admin, client, Model, staying.AcceleratorId, maxTokens: 300, Timeout);

        await _scheduler.StopNodeAsync("in-process-stopping");

        var result = await running;
        var trace = await admin.ExplainJobAsync(result.JobId);
        var story = string.Join("; ", trace.Events.Select(e => $"{e.Kind}: {e.Detail}"));
        Assert.True(result.Succeeded, $"{result.Status} {result.Error}: {story}");
        Assert.Equal((300, 0, "in-process-staying"), (result.TokenCount, result.RepeatedTokensDropped, result.Placement?.NodeId));
        Assert.Contains(trace.Events, e => e.Kind == "handed_back");

        // Every token index arrived once, in order: none repeated by the resumption, none skipped.
        var indices = result.Events.Where(e => e.EventCase == JobEvent.EventOneofCase.Tokens)
            .SelectMany(e => Enumerable.Range(e.Tokens.FirstTokenIndex, e.Tokens.TokenCount)).ToList();
        Assert.Equal(Enumerable.Range(0, 300), indices);
    }

    private Task StartNodeAsync(string nodeId, string speedUp, CapturedLogs? logs = null)
    {
        var options = new WorkerNodeOptions { NodeId = nodeId, SpeedUp = speedUp };
        options.Accelerators.Add(new AcceleratorOptions { Product = "L4", Model = Model, MaxSequences = 4 });
        return _scheduler.StartNodeAsync(options, inProcessLink: true, logs is null ? null : logging => logging.AddProvider(logs));
    }
}
