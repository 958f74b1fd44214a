using System.Threading.Channels;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Scheduler.Protos.V1;

namespace Scheduler.Tests.EndToEnd.Hostile;

/// <summary>
/// A worker node the test scripts: a real WorkerService on a loopback port that registers with the silo like a
/// node would, hands the test every command the silo sends, and sends whatever step reports the test writes —
/// including nonsense no real engine would produce.
/// </summary>
internal sealed class FakeWorkerNode : WorkerService.WorkerServiceBase, IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Channel<ExecuteCommand> _commands = Channel.CreateUnbounded<ExecuteCommand>();
    private readonly CancellationTokenSource _stop = new();
    private Channel<ExecuteEvent> _events = Channel.CreateUnbounded<ExecuteEvent>();
    private Task _heartbeats = Task.CompletedTask;

    private FakeWorkerNode(string nodeId)
    {
        NodeId = nodeId;
        _app = LoopbackGrpcApp.Serving(this);
    }

    public string NodeId { get; }

    public string Address => _app.Urls.Single();

    public string ReplicaId => NodeId + "/r0";

    public string AcceleratorId => NodeId + "/a0";

    public static async Task<FakeWorkerNode> StartAsync(string nodeId)
    {
        var node = new FakeWorkerNode(nodeId);
        await node._app.StartAsync();
        return node;
    }

    /// <summary>Starts a node with a fresh id from <paramref name="prefix"/> and registers it with <paramref name="cluster"/>'s
    /// silo, serving <paramref name="model"/> (see <see cref="Describe"/>).</summary>
    public static Task<FakeWorkerNode> StartRegisteredAsync(SchedulerCluster cluster, string prefix, string model) =>
        StartRegisteredAsync(cluster.Channel, prefix, model);

    /// <summary>Starts a node and registers it, with <see cref="SchedulerCluster.NodeToken"/>, at the silo behind <paramref name="channel"/>.</summary>
    public static async Task<FakeWorkerNode> StartRegisteredAsync(GrpcChannel channel, string prefix, string model)
    {
        var node = await StartAsync(prefix + "-" + Guid.NewGuid().ToString("N")[..6]);
        var auth = new Metadata { { "authorization", "Bearer " + SchedulerCluster.NodeToken } };
        await node.RegisterAsync(new NodeRegistryService.NodeRegistryServiceClient(channel), auth, node.Describe(model));
        return node;
    }

    /// <summary>A plausible description of this node: one L4-like accelerator hosting one replica of <paramref name="model"/>.</summary>
    public NodeDescription Describe(string model, int maxSequences = 8)
    {
        var description = new NodeDescription { NodeId = NodeId, Address = Address, Engine = "fake" };
        description.Accelerators.Add(new AcceleratorDescription
        {
            AcceleratorId = AcceleratorId,
            Profile = new AcceleratorProfileInfo
            {
                Product = "L4", Kind = "gpu", MemoryBytes = 24L << 30, DecodeStepBaseMs = 20, DecodeStepPerSequenceMs = 0.5,
                PrefillTokensPerSecond = 4000, PricePerHourUsd = 0.8, PowerWatts = 72, MaxSequences = maxSequences,
                KvCapacityTokens = 100_000, StepTokenBudget = 2048,
            },
        });
        description.Replicas.Add(new ReplicaDescription
        {
            ReplicaId = ReplicaId, Model = model, AcceleratorId = AcceleratorId, MaxSequences = maxSequences, KvCapacityTokens = 100_000, MaxContextTokens = 8192,
        });
        return description;
    }

    /// <summary>Registers with the silo and keeps the lease alive until disposed.</summary>
    public async Task RegisterAsync(NodeRegistryService.NodeRegistryServiceClient registry, Metadata auth, NodeDescription description)
    {
        await registry.RegisterNodeAsync(new RegisterNodeRequest { Node = description }, auth);
        _heartbeats = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(500, _stop.Token);
                    await registry.HeartbeatAsync(new HeartbeatRequest { NodeId = NodeId }, auth, cancellationToken: _stop.Token);
                }
                catch (Exception ex) when (ex is OperationCanceledException or RpcException)
                {
                    // Stopping, or the silo is going away with the test.
                }
            }
        });
    }

    /// <summary>The next command the silo sent (admit or cancel).</summary>
    public async Task<ExecuteCommand> NextCommand(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        return await _commands.Reader.ReadAsync(cts.Token);
    }

    /// <summary>The next batch the silo admitted here (other commands before it are skipped).</summary>
    public async Task<AdmitBatch> NextAdmit(TimeSpan timeout)
    {
        while (true)
        {
            var command = await NextCommand(timeout);
            if (command.Admit is { } admit)
            {
                return admit;
            }
        }
    }

    public void Send(StepReport report) => _events.Writer.TryWrite(new ExecuteEvent { Step = report });

    public void SendEmptyEvent() => _events.Writer.TryWrite(new ExecuteEvent());

    /// <summary>Ends the current execution stream with an error, as a crashing engine would.</summary>
    public void BreakStream() => _events.Writer.TryComplete(new InvalidOperationException("fake node broke its stream"));

    public override async Task Execute(IAsyncStreamReader<ExecuteCommand> requestStream, IServerStreamWriter<ExecuteEvent> responseStream, ServerCallContext context)
    {
        var events = _events;
        var reading = Task.Run(async () =>
        {
            await foreach (var command in requestStream.ReadAllAsync(context.CancellationToken))
            {
                _commands.Writer.TryWrite(command);
            }
        });
        await foreach (var e in events.Reader.ReadAllAsync(context.CancellationToken))
        {
            await responseStream.WriteAsync(e);
        }

        _events = Channel.CreateUnbounded<ExecuteEvent>();
        await reading.WaitAsync(TimeSpan.FromSeconds(1)).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _heartbeats;
        _events.Writer.TryComplete();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _stop.Dispose();
    }
}
