using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Scheduler.Worker.Hosting;
using Scheduler.Worker.Registration;

namespace Scheduler.Tests.Worker;

public sealed class SchedulerRegistrationTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Node_RegistersWithItsDescriptionAndToken_ThenHeartbeats_AndRegistersAgainWhenForgotten()
    {
        await using var registry = await FakeNodeRegistry.StartAsync(forgetAtHeartbeat: 3);
        await using var worker = await StartWorkerAsync(registry.Address);
        var node = worker.Node;

        await node.Registered.WaitAsync(Timeout);
        await Polling.Until(() => registry.Registrations.Count >= 2 && registry.Heartbeats >= 4, "a second registration after the scheduler forgot the node", Timeout);

        var (request, authorization) = registry.Registrations.First();
        Assert.Equal("Bearer registration-token", authorization);
        Assert.Equal("reg-node", request.Node.NodeId);
        Assert.Equal(node.Address, request.Node.Address);
        Assert.Equal(["reg-node-l4-0/llama-3.1-8b"], request.Node.Replicas.Select(r => r.ReplicaId));
        Assert.Equal(1, request.Node.Replicas[0].MaxSequences);
        Assert.Equal(1, request.Node.Accelerators[0].Profile.MaxSequences);
    }

    [Fact]
    public async Task Node_KeepsRetrying_UntilTheSchedulerComesUp()
    {
        var port = EndToEnd.FreePort.Next();
        await using var worker = await StartWorkerAsync($"http://127.0.0.1:{port}");
        var node = worker.Node;

        // A few attempts fail (connection refused) before the scheduler exists.
        await Task.Delay(700);
        Assert.False(node.Registered.IsCompleted);

        await using var registry = await FakeNodeRegistry.StartAsync(port);
        await node.Registered.WaitAsync(Timeout);
        Assert.Single(registry.Registrations);
    }

    [Fact]
    public async Task Node_StoppedWhileAHeartbeatIsInFlight_StopsQuietly()
    {
        // The heartbeat cancelled by the stop threw RpcException(Cancelled), which the registration let out: the host
        // logged "BackgroundService failed" and a critical line at every such stop (seen at the end of the README's demo).
        await using var registry = await FakeNodeRegistry.StartAsync();
        var worker = await StartWorkerAsync(registry.Address);
        var registration = worker.Services.GetServices<IHostedService>().OfType<SchedulerRegistration>().Single();
        await worker.Node.Registered.WaitAsync(Timeout);
        registry.HoldHeartbeats = true;
        await registry.HeartbeatHeld.Task.WaitAsync(Timeout);

        await worker.DisposeAsync();

        Assert.NotNull(registration.ExecuteTask);
        Assert.True(registration.ExecuteTask.IsCompletedSuccessfully, $"the registration ended {registration.ExecuteTask.Status}: {registration.ExecuteTask.Exception?.InnerException?.Message}");
    }

    [Fact]
    public async Task Node_FirstSiloStopsAnsweringHeartbeats_TheNextHeartbeatReachesTheNextSiloWithinTheLease()
    {
        // A frozen silo (SIGSTOP, a stalled VM) takes the heartbeat and never answers. With the scheduler's defaults
        // (interval 2 s, lease 6 s) the node waited 4 s for it and then another interval: its next heartbeat came 8 s
        // after the last answered one, and the scheduler had found it lost.
        var lease = TimeSpan.FromSeconds(6);
        await using var frozen = await FakeNodeRegistry.StartAsync(leaseMs: (int)lease.TotalMilliseconds, heartbeatIntervalMs: 2_000);
        await using var next = await FakeNodeRegistry.StartAsync(leaseMs: (int)lease.TotalMilliseconds, heartbeatIntervalMs: 2_000);
        await using var worker = await StartWorkerAsync($"{frozen.Address},{next.Address}");
        await worker.Node.Registered.WaitAsync(Timeout);
        Assert.Single(frozen.Registrations);
        await Polling.Until(() => frozen.Heartbeats >= 1, "a heartbeat answered by the first silo", Timeout);

        frozen.HoldHeartbeats = true;
        await Polling.Until(() => next.Heartbeats >= 1, "a heartbeat through the next silo", Timeout);

        var gap = next.Answered.First() - frozen.Answered.Last();
        Assert.True(gap < lease, $"the node's heartbeats paused {gap.TotalSeconds:0.0} s, past its {lease.TotalSeconds:0} s lease");
        Assert.Empty(next.Registrations);
    }

    [Theory]
    [InlineData(2_000, 6_000, 2_000)]
    [InlineData(1_000, 6_000, 2_000)]
    [InlineData(1_000, 0, 2_000)]
    [InlineData(500, 1_500, 1_000)]
    [InlineData(10_000, 60_000, 10_000)]
    public void HeartbeatTimeout_LeavesTheLeaseRoomForASecondHeartbeat(int intervalMs, int leaseMs, int expectedMs) =>
        Assert.Equal(
            TimeSpan.FromMilliseconds(expectedMs),
            SchedulerRegistration.HeartbeatTimeout(TimeSpan.FromMilliseconds(intervalMs), TimeSpan.FromMilliseconds(leaseMs)));

    private static Task<StartedWorker> StartWorkerAsync(string schedulerAddress)
    {
        var options = new WorkerNodeOptions { NodeId = "reg-node", SchedulerAddress = schedulerAddress, NodeToken = "registration-token" };
        options.Accelerators.Add(new AcceleratorOptions { Product = "L4", MaxSequences = 1 });
        return StartedWorker.StartAsync(options);
    }
}
