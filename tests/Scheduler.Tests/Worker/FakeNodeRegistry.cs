using System.Collections.Concurrent;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Scheduler.Protos.V1;

namespace Scheduler.Tests.Worker;

/// <summary>
/// A stand-in for the scheduler's NodeRegistryService on a loopback port: records registrations and heartbeats,
/// and answers the heartbeat numbered <see cref="ForgetAtHeartbeat"/> with known = false.
/// </summary>
internal sealed class FakeNodeRegistry : NodeRegistryService.NodeRegistryServiceBase, IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _heartbeats;

    private FakeNodeRegistry(int port)
    {
        _app = LoopbackGrpcApp.Serving(this, port);
    }

    public ConcurrentQueue<(RegisterNodeRequest Request, string? Authorization)> Registrations { get; } = new();

    public int Heartbeats => Volatile.Read(ref _heartbeats);

    public int ForgetAtHeartbeat { get; init; } = int.MaxValue;

    /// <summary>The lease a registration is granted.</summary>
    public int LeaseMs { get; init; } = 1_000;

    /// <summary>The heartbeat interval a registration is asked for.</summary>
    public int HeartbeatIntervalMs { get; init; } = 20;

    /// <summary>When each heartbeat was answered.</summary>
    public ConcurrentQueue<DateTimeOffset> Answered { get; } = new();

    public string Address => _app.Urls.Single();

    public static async Task<FakeNodeRegistry> StartAsync(int port = 0, int forgetAtHeartbeat = int.MaxValue, int leaseMs = 1_000, int heartbeatIntervalMs = 20)
    {
        var registry = new FakeNodeRegistry(port) { ForgetAtHeartbeat = forgetAtHeartbeat, LeaseMs = leaseMs, HeartbeatIntervalMs = heartbeatIntervalMs };
        await registry._app.StartAsync();
        return registry;
    }

    public override Task<RegisterNodeResponse> RegisterNode(RegisterNodeRequest request, ServerCallContext context)
    {
        Registrations.Enqueue((request, context.RequestHeaders.GetValue("authorization")));
        return Task.FromResult(new RegisterNodeResponse { LeaseMs = LeaseMs, HeartbeatIntervalMs = HeartbeatIntervalMs });
    }

    /// <summary>When set, heartbeats get no answer until their caller gives up; <see cref="HeartbeatHeld"/> says one is held.</summary>
    public bool HoldHeartbeats { get; set; }

    public TaskCompletionSource HeartbeatHeld { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public override async Task<HeartbeatResponse> Heartbeat(HeartbeatRequest request, ServerCallContext context)
    {
        if (HoldHeartbeats)
        {
            HeartbeatHeld.TrySetResult();
            await Task.Delay(System.Threading.Timeout.Infinite, context.CancellationToken);
        }

        Answered.Enqueue(DateTimeOffset.UtcNow);
        return new HeartbeatResponse { Known = Interlocked.Increment(ref _heartbeats) != ForgetAtHeartbeat, LeaseMs = LeaseMs };
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
