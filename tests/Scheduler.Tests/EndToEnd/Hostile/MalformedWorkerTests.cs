using Grpc.Core;
using Scheduler.Client;
using Scheduler.Protos.V1;

namespace Scheduler.Tests.EndToEnd.Hostile;

/// <summary>
/// Worker nodes that lie: bad registrations are refused with a status naming the field, nonsense step reports are
/// ignored without disturbing the jobs they name, and a node that breaks its stream is dropped — while the silo
/// keeps serving every other node.
/// </summary>
[Collection(SchedulerClusterCollection.Name)]
public sealed class MalformedWorkerTests(SchedulerCluster cluster)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private NodeRegistryService.NodeRegistryServiceClient Registry => new(cluster.Channel);

    private static Metadata Auth(string token = SchedulerCluster.NodeToken) => new() { { "authorization", "Bearer " + token } };

    [Fact]
    public async Task RegisterNode_BadNodeToken_IsUnauthenticated_AndATenantsKeyPermissionDenied()
    {
        await using var node = await FakeWorkerNode.StartAsync("hostile-bad-token");
        var ex = await Assert.ThrowsAsync<RpcException>(() => Registry.RegisterNodeAsync(new RegisterNodeRequest { Node = node.Describe(SchedulerCluster.ScriptedModel) }, Auth("not-the-node-token")).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode);

        // A valid key of another kind: its holder is told it is the wrong one (AuthInterceptorTests has every pairing).
        var heartbeat = await Assert.ThrowsAsync<RpcException>(() => Registry.HeartbeatAsync(new HeartbeatRequest { NodeId = "x" }, Auth(SchedulerCluster.Tenants[0].Key)).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, heartbeat.StatusCode);
    }

    public static TheoryData<string, string> MalformedDescriptions => new()
    {
        { "no-node", "node" },
        { "empty-node-id", "node.node_id" },
        { "huge-node-id", "node.node_id" },
        { "bad-address", "node.address" },
        { "empty-accelerator-id", "node.accelerators" },
        { "duplicate-accelerator-id", "node.accelerators" },
        { "no-profile", "node.accelerators" },
        { "nan-price", "node.accelerators.profile" },
        { "negative-price", "node.accelerators.profile" },
        { "infinite-step", "node.accelerators.profile" },
        { "pool-with-space", "node.accelerators.pool" },
        { "pool-too-long", "node.accelerators.pool" },
        { "empty-replica-id", "node.replicas" },
        { "duplicate-replica-id", "node.replicas" },
        { "replica-on-unknown-accelerator", "node.replicas.accelerator_id" },
        { "replica-of-unknown-model", "node.replicas.model" },
        { "zero-slots", "node.replicas" },
        { "negative-context", "node.replicas" },
        { "negative-queue-ahead", "node.replicas.queue_ahead" },
        { "queue-ahead-past-slots", "node.replicas.queue_ahead" },
        { "negative-requests-per-minute", "node.replicas.requests_per_minute" },
        { "negative-tokens-per-minute", "node.replicas.tokens_per_minute" },
    };

    [Theory]
    [MemberData(nameof(MalformedDescriptions))]
    public async Task RegisterNode_MalformedDescription_IsInvalidArgumentNamingTheField(string mutation, string field)
    {
        await using var node = await FakeWorkerNode.StartAsync("hostile-" + mutation);
        var description = node.Describe(SchedulerCluster.ScriptedModel);
        var accelerator = description.Accelerators[0];
        var replica = description.Replicas[0];
        switch (mutation)
        {
            case "no-node": description = null; break;
            case "empty-node-id": description.NodeId = ""; break;
            case "huge-node-id": description.NodeId = new string('n', 10_000); break;
            case "bad-address": description.Address = "not a url"; break;
            case "empty-accelerator-id": accelerator.AcceleratorId = ""; break;
            case "duplicate-accelerator-id": description.Accelerators.Add(accelerator.Clone()); break;
            case "no-profile": accelerator.Profile = null; break;
            case "nan-price": accelerator.Profile.PricePerHourUsd = double.NaN; break;
            case "negative-price": accelerator.Profile.PricePerMillionOutputTokensUsd = -1; break;
            case "infinite-step": accelerator.Profile.DecodeStepBaseMs = double.PositiveInfinity; break;
            case "pool-with-space": accelerator.Pool = "h100 spot"; break;
            case "pool-too-long": accelerator.Pool = new string('p', 64); break;
            case "empty-replica-id": replica.ReplicaId = ""; break;
            case "duplicate-replica-id": description.Replicas.Add(replica.Clone()); break;
            case "replica-on-unknown-accelerator": replica.AcceleratorId = "nope"; break;
            case "replica-of-unknown-model": replica.Model = "no-such-model"; break;
            case "zero-slots": replica.MaxSequences = 0; break;
            case "negative-context": replica.MaxContextTokens = -5; break;
            case "negative-queue-ahead": replica.QueueAhead = -1; break;
            case "queue-ahead-past-slots": replica.QueueAhead = replica.MaxSequences + 1; break;
            case "negative-requests-per-minute": replica.RequestsPerMinute = -1; break;
            case "negative-tokens-per-minute": replica.TokensPerMinute = -60_000; break;
        }

        var ex = await Assert.ThrowsAsync<RpcException>(() => Registry.RegisterNodeAsync(new RegisterNodeRequest { Node = description }, Auth()).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith(field, ex.Status.Detail, StringComparison.Ordinal);
        Assert.InRange(ex.Status.Detail.Length, 1, 512);
        await AssertStillServing();
    }

    [Fact]
    public async Task RegisterNode_ClaimingAnotherLiveNodesAccelerator_IsRefused()
    {
        await using var owner = await FakeWorkerNode.StartAsync("hostile-owner");
        await using var thief = await FakeWorkerNode.StartAsync("hostile-thief");
        await owner.RegisterAsync(Registry, Auth(), owner.Describe(SchedulerCluster.ScriptedModel));

        var stolen = thief.Describe(SchedulerCluster.ScriptedModel);
        stolen.Accelerators[0].AcceleratorId = owner.AcceleratorId;
        stolen.Replicas[0].AcceleratorId = owner.AcceleratorId;
        var ex = await Assert.ThrowsAsync<RpcException>(() => Registry.RegisterNodeAsync(new RegisterNodeRequest { Node = stolen }, Auth()).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, ex.StatusCode);
        Assert.Contains(owner.AcceleratorId, ex.Status.Detail, StringComparison.Ordinal);

        var replicaThief = thief.Describe(SchedulerCluster.ScriptedModel);
        replicaThief.Replicas[0].ReplicaId = owner.ReplicaId;
        var ex2 = await Assert.ThrowsAsync<RpcException>(() => Registry.RegisterNodeAsync(new RegisterNodeRequest { Node = replicaThief }, Auth()).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, ex2.StatusCode);

        using var admin = cluster.Admin();
        Assert.Equal(owner.NodeId, (await admin.GetAcceleratorAsync(owner.AcceleratorId)).NodeId);
    }

    [Fact]
    public async Task StepReports_Nonsense_IsIgnored_AndTheJobCompletesWithExactTokensAndFiniteCost()
    {
        await using var node = await FakeWorkerNode.StartAsync("hostile-liar-" + Guid.NewGuid().ToString("N")[..6]);
        await node.RegisterAsync(Registry, Auth(), node.Describe(SchedulerCluster.ScriptedModel));
        using var client = cluster.Tenant(2);
        using var admin = cluster.Admin();
        var costBefore = (await admin.GetTenantAsync(SchedulerCluster.Tenants[2].Id)).Usage.CostUsd;

        var run = client.RunAsync(new SubmitJobRequest { Model = SchedulerCluster.ScriptedModel, Prompt = "lie to me", MaxTokens = 3 }, deadline: DateTime.UtcNow + Wait);
        var admit = await NextAdmit(node);
        var seq = admit.Sequences.Single().SequenceId;
        var r = node.ReplicaId;

        node.SendEmptyEvent();
        node.Send(Step("no-such-replica", Tokens(seq, 0, "X", 1)));
        node.Send(Step(r, Tokens("never-given", 0, "X", 1)));
        node.Send(Step(r, Tokens(seq, 5, "X", 1)));                // a gap
        node.Send(Step(r, Tokens(seq, -1, "X", 1)));               // before the start
        node.Send(Step(r, Tokens(seq, 0, "X", -3)));               // negative count
        node.Send(Step(r, Tokens(seq, 0, "X", 0)));                // empty
        node.Send(Step(r, Tokens(seq, 0, "X", int.MaxValue)));     // more tokens than memory
        node.Send(Step(r, Tokens(seq, 0, "X", 4)));                // more than max_tokens
        node.Send(Timed(Step(r, Tokens(seq, 0, "a", 1)), double.NaN));
        node.Send(Timed(Step(r, Tokens(seq, 1, "b", 1)), double.PositiveInfinity));
        node.Send(Timed(Step(r, Tokens(seq, 1, "X", 1)), -1e300)); // a repeat
        node.Send(Timed(Step(r, Tokens(seq, 2, "c", 1)), -5));
        node.Send(Step(r, Tokens(seq, 3, "X", 1)));                // past max_tokens
        var capacity = Step(r);
        capacity.Capacity = new ReplicaCapacity { RunningSequences = -7, KvTokensUsed = long.MinValue, PeakSequences = int.MaxValue, OutputTokensPerSecond = double.NaN };
        node.Send(capacity);
        node.Send(Step(r, finished: [Finished(seq, FinishReason.Length, -7), Finished(seq, FinishReason.Length, 3), Finished("never-given", FinishReason.Length, 1)]));

        var result = await run;
        Assert.True(result.Succeeded, $"{result.Status} {result.Error}");
        Assert.Equal("abc", result.Text);
        Assert.Equal(3, result.TokenCount);
        Assert.Equal(3, result.Usage!.CompletionTokens);
        Assert.True(double.IsFinite(result.Usage.CostUsd) && result.Usage.CostUsd >= 0, $"cost {result.Usage.CostUsd}");

        // A second finish for the same sequence changes nothing; the tenant's books stay finite.
        node.Send(Step(r, finished: [Finished(seq, FinishReason.Stop, 99)]));
        var job = await client.GetAsync(result.JobId);
        Assert.Equal(JobStatus.Completed, job.Status);
        Assert.Equal("length", job.FinishReason);
        var costAfter = (await admin.GetTenantAsync(SchedulerCluster.Tenants[2].Id)).Usage.CostUsd;
        Assert.True(double.IsFinite(costAfter) && costAfter >= costBefore, $"tenant cost {costBefore} -> {costAfter}");

        // Its slot was freed: the replica runs nothing, and the next job is admitted to it.
        var next = client.RunAsync(new SubmitJobRequest { Model = SchedulerCluster.ScriptedModel, Prompt = "next", MaxTokens = 1 }, deadline: DateTime.UtcNow + Wait);
        var second = (await NextAdmit(node)).Sequences.Single().SequenceId;
        node.Send(Step(r, Tokens(second, 0, "z", 1), finished: [Finished(second, (FinishReason)42, 1)]));
        var odd = await next;
        Assert.Equal(JobStatus.Failed, odd.Status);
        Assert.Contains("unknown finish reason '42'", odd.Error, StringComparison.Ordinal);

        await AssertStillServing();
    }

    [Fact]
    public async Task StepReports_ASequenceTheEngineRefused_IsQueuedAgain_AndRunsOnceTheReplicaHasRoom()
    {
        await using var node = await FakeWorkerNode.StartAsync("hostile-refuser-" + Guid.NewGuid().ToString("N")[..6]);
        await node.RegisterAsync(Registry, Auth(), node.Describe(SchedulerCluster.ScriptedModel, maxSequences: 2));
        using var client = cluster.Tenant(2);
        var first = client.RunAsync(new SubmitJobRequest { Model = SchedulerCluster.ScriptedModel, Prompt = "first", MaxTokens = 1 }, deadline: DateTime.UtcNow + Wait);
        var a = (await NextAdmit(node)).Sequences.Single().SequenceId;
        var second = client.RunAsync(new SubmitJobRequest { Model = SchedulerCluster.ScriptedModel, Prompt = "second", MaxTokens = 1 }, deadline: DateTime.UtcNow + Wait);
        var b = (await NextAdmit(node)).Sequences.Single().SequenceId;

        // The engine refuses b although the scheduler counted room: b is not failed but queued again, and nothing
        // new goes to the replica while a still runs there.
        node.Send(Step(node.ReplicaId, finished: [Finished(b, FinishReason.Rejected, 0)]));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => node.NextCommand(TimeSpan.FromSeconds(1)));
        Assert.False(second.IsCompleted);

        node.Send(Step(node.ReplicaId, Tokens(a, 0, "x", 1), finished: [Finished(a, FinishReason.Length, 1)]));
        Assert.Equal(b, (await NextAdmit(node)).Sequences.Single().SequenceId);
        node.Send(Step(node.ReplicaId, Tokens(b, 0, "y", 1), finished: [Finished(b, FinishReason.Length, 1)]));

        var results = await Task.WhenAll(first, second);
        Assert.All(results, r => Assert.True(r.Succeeded, $"{r.Status} {r.Error}"));
        Assert.Equal(["x", "y"], results.Select(r => r.Text));
    }

    [Fact]
    public async Task StepReports_TokensForAJobOnAnotherReplicaOfTheNode_AreIgnored()
    {
        await using var node = await FakeWorkerNode.StartAsync("hostile-crossed-" + Guid.NewGuid().ToString("N")[..6]);
        var description = node.Describe(SchedulerCluster.ScriptedModel);
        var other = description.Replicas[0].Clone();
        other.ReplicaId = node.NodeId + "/r1";
        description.Replicas.Add(other);
        await node.RegisterAsync(Registry, Auth(), description);
        using var client = cluster.Tenant(2);

        var run = client.RunAsync(new SubmitJobRequest { Model = SchedulerCluster.ScriptedModel, Prompt = "crossed", MaxTokens = 1 }, deadline: DateTime.UtcNow + Wait);
        var admit = await NextAdmit(node);
        var seq = admit.Sequences.Single().SequenceId;
        var wrong = admit.ReplicaId == node.ReplicaId ? other.ReplicaId : node.ReplicaId;

        // Reported under the wrong replica: it would free the wrong replica's reservation, so it is ignored.
        node.Send(Step(wrong, Tokens(seq, 0, "X", 1), finished: [Finished(seq, FinishReason.Length, 1)]));
        node.Send(Step(admit.ReplicaId, Tokens(seq, 0, "y", 1), finished: [Finished(seq, FinishReason.Length, 1)]));
        var result = await run;
        Assert.True(result.Succeeded, $"{result.Status} {result.Error}");
        Assert.Equal("y", result.Text);

        // The client may hear the end before the placement frees the slot (both are one-way messages from the node's
        // link), so the replicas reach zero running sequences a moment later; a slot never freed keeps them above it.
        using var admin = cluster.Admin();
        await Polling.Until(
            async () => (await admin.ListReplicasAsync(SchedulerCluster.ScriptedModel)).Where(x => x.NodeId == node.NodeId).All(x => x.RunningSequences == 0),
            "both replicas of the node run nothing", Wait);
    }

    [Fact]
    public async Task ExecuteStream_BrokenByTheNode_RequeuesItsJob_AndTheSiloKeepsServing()
    {
        await using var node = await FakeWorkerNode.StartAsync("hostile-breaker-" + Guid.NewGuid().ToString("N")[..6]);
        await node.RegisterAsync(Registry, Auth(), node.Describe(SchedulerCluster.ScriptedModel));
        using var client = cluster.Tenant(2);
        using var admin = cluster.Admin();
        var tenant = SchedulerCluster.Tenants[2].Id;
        var before = await admin.GetTenantAsync(tenant);
        var job = await client.SubmitAsync(new SubmitJobRequest { Model = SchedulerCluster.ScriptedModel, Prompt = "doomed", MaxTokens = 2 });
        var seq = (await NextAdmit(node)).Sequences.Single().SequenceId;
        Assert.Equal(job.JobId, seq);
        node.Send(Step(node.ReplicaId, Tokens(seq, 0, "a", 1)));
        node.BreakStream();

        // The node is dropped and its job goes back to the queue (no other node serves this model), cancellable.
        var deadline = DateTime.UtcNow + Wait;
        while ((await admin.GetAcceleratorAsync(node.AcceleratorId)).State != "lost")
        {
            Assert.True(DateTime.UtcNow < deadline, "the node that broke its stream was never dropped");
            await Task.Delay(100);
        }

        Assert.Equal(JobStatus.Cancelled, (await client.CancelAsync(job.JobId)).Status);

        // The tenant's books balance: the job that ran, was requeued and cancelled is neither queued nor running.
        while (await admin.GetTenantAsync(tenant) is { } now && (now.QueuedJobs != before.QueuedJobs || now.RunningJobs != before.RunningJobs))
        {
            Assert.True(DateTime.UtcNow < deadline, $"tenant counts {now.QueuedJobs} queued / {now.RunningJobs} running, was {before.QueuedJobs} / {before.RunningJobs}");
            await Task.Delay(100);
        }

        await AssertStillServing();
    }

    private static Task<AdmitBatch> NextAdmit(FakeWorkerNode node) => node.NextAdmit(Wait);

    private static StepReport Step(string replicaId, SequenceTokens? tokens = null, SequenceFinished[]? finished = null)
    {
        var step = new StepReport { ReplicaId = replicaId, StepMs = 10 };
        if (tokens is not null)
        {
            step.Tokens.Add(tokens);
        }

        step.Finished.Add(finished ?? []);
        return step;
    }

    private static StepReport Timed(StepReport step, double stepMs)
    {
        step.StepMs = stepMs;
        return step;
    }

    private static SequenceTokens Tokens(string sequenceId, int first, string text, int count) =>
        new() { SequenceId = sequenceId, FirstTokenIndex = first, Text = text, TokenCount = count };

    private static SequenceFinished Finished(string sequenceId, FinishReason reason, int completionTokens) =>
        new() { SequenceId = sequenceId, Reason = reason, CompletionTokens = completionTokens };

    private async Task AssertStillServing()
    {
        using var client = cluster.Tenant(2);
        var result = await client.RunAsync(new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "still there?", MaxTokens = 3 }, deadline: DateTime.UtcNow + Wait);
        Assert.True(result.Succeeded, $"{result.Status} {result.Error}");
    }
}
