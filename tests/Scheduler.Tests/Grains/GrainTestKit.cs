using System.Collections.Concurrent;
using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Jobs;
using Scheduler.Policies;
using Scheduler.Policies.Profiles;

namespace Scheduler.Tests.Grains;

/// <summary>Builders and bounded waits for the grain tests.</summary>
internal static class GrainTestKit
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>A fresh name, so tests sharing the cluster never meet.</summary>
    public static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)];

    public static JobRequest Request(string model, int prompt = 100, int maxTokens = 100, JobPriority priority = JobPriority.Standard, string? idempotencyKey = null, DateTimeOffset? deadline = null) =>
        new(model, "hello", null, prompt, maxTokens, priority, 1_000, idempotencyKey, null, null, deadline);

    public static JobTicket Ticket(string jobId, string tenant, string model, int prompt = 100, int maxTokens = 100, JobPriority priority = JobPriority.Standard, IJobEventSink[]? watchers = null, DateTimeOffset? deadline = null) =>
        new(jobId, tenant, Request(model, prompt, maxTokens, priority, deadline: deadline), DateTimeOffset.UtcNow, watchers ?? [], 1.0);

    public static ReplicaRegistration Replica(string replicaId, string model, string nodeId, int maxSequences, long kvCapacityTokens, AcceleratorProfile? profile = null) =>
        new(replicaId, model, "acc-" + replicaId, nodeId, profile ?? AcceleratorProfiles.H100, maxSequences, kvCapacityTokens, 8_192);

    public static NodeRegistration Node(string nodeId, params ReplicaRegistration[] replicas) =>
        new(nodeId, "fake://" + nodeId, "fake",
            [.. replicas.Select(r => r.AcceleratorId).Distinct().Select(a => new AcceleratorRegistration(a, nodeId, AcceleratorProfiles.H100))],
            replicas);

    /// <summary>Registers a node with the worker-node grain, which opens a fake link to it.</summary>
    public static async Task<FakeNodeLink> RegisterNode(GrainClusterFixture cluster, string nodeId, params ReplicaRegistration[] replicas)
    {
        await cluster.Client.GetGrain<IWorkerNodeGrain>(nodeId).Register(Node(nodeId, replicas));
        return cluster.Links.Link(nodeId);
    }

    /// <summary>A round trip through the node grain: one-way Admit/Cancel calls sent before it have been handled.</summary>
    public static Task Settle(GrainClusterFixture cluster, string nodeId) => cluster.Client.GetGrain<IWorkerNodeGrain>(nodeId).Get();

    /// <summary>Polls <paramref name="condition"/> until it holds, failing after <see cref="Timeout"/>.</summary>
    public static Task Until(Func<bool> condition, string what) => Polling.Until(condition, what, Timeout);

    /// <summary>Polls an asynchronous <paramref name="condition"/> until it holds, failing after <see cref="Timeout"/>.</summary>
    public static Task Until(Func<Task<bool>> condition, string what) => Polling.Until(condition, what, Timeout);
}

/// <summary>A client-side watcher that records the job events the placement sends it.</summary>
internal sealed class RecordingJobSink : IJobEventSink
{
    private readonly ConcurrentQueue<JobEventRecord> _events = new();

    public IReadOnlyCollection<JobEventRecord> Events => _events;

    public Task OnEvents(JobEventRecord[] events)
    {
        foreach (var e in events)
        {
            _events.Enqueue(e);
        }

        return Task.CompletedTask;
    }
}
