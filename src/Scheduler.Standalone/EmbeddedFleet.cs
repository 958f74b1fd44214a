using Microsoft.Extensions.Options;
using Scheduler.Protos.Tls;
using Scheduler.Silo.Hosting;
using Scheduler.Silo.Models;
using Scheduler.Silo.Nodes;
using Scheduler.Worker.Hosting;

namespace Scheduler.Standalone;

/// <summary>
/// Runs the configured simulated worker nodes inside this process, each a real gRPC server on a free loopback
/// port that registers with this silo exactly as a remote node would. Started once the silo listens. Their execution
/// streams are reached in-process unless <see cref="EmbeddedFleetOptions.InProcessLinks"/> is off. With the front door
/// on TLS (<c>Scheduler:Tls</c>) they register over it trusting exactly the certificate the silo serves: the CA that
/// signed it is not in their trust, and it need not name the loopback address they dial.
/// </summary>
internal sealed partial class EmbeddedFleet(
    IOptions<EmbeddedFleetOptions> options,
    IOptions<NodeOptions> nodes,
    IOptions<ModelCatalogOptions> catalog,
    ListeningAddresses addresses,
    InProcessNodeLinks inProcessLinks,
    IHostApplicationLifetime lifetime,
    ILoggerFactory loggers,
    ILogger<EmbeddedFleet> logger,
    ServerCertificateReloader? frontDoorCertificate = null) : IHostedLifecycleService
{
    private static readonly TimeSpan RegistrationTimeout = TimeSpan.FromSeconds(30);

    private readonly List<WebApplication> _nodes = [];
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when every embedded node has registered.</summary>
    public Task Ready => _ready.Task;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var fleet = options.Value;
        if (!fleet.Enabled || fleet.Nodes.Count == 0)
        {
            _ready.TrySetResult();
            return Task.CompletedTask;
        }

        lifetime.ApplicationStarted.Register(() => _ = StartNodes(fleet));
        return Task.CompletedTask;
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>The nodes stop first, while the silo still answers them: stopping after its gRPC port closed
    /// would leave them retrying heartbeats and the silo waiting on their streams.</summary>
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        foreach (var spec in options.Value.Nodes)
        {
            inProcessLinks.Remove(spec.NodeId);
        }

        foreach (var node in _nodes)
        {
            await node.StopAsync(cancellationToken);
            await node.DisposeAsync();
        }

        _nodes.Clear();
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private async Task StartNodes(EmbeddedFleetOptions fleet)
    {
        try
        {
            var registrations = new List<(string NodeId, Task Registered)>();
            foreach (var spec in fleet.Nodes)
            {
                var nodeOptions = new WorkerNodeOptions
                {
                    NodeId = spec.NodeId,
                    SchedulerAddress = addresses.Grpc,
                    NodeToken = nodes.Value.NodeToken,
                    SpeedUp = fleet.SpeedUp,

                    // The nodes stop with their scheduler: there is nowhere for them to drain to.
                    DrainTimeoutSeconds = 0,
                };
                foreach (var a in spec.Accelerators)
                {
                    var model = a.Model ?? catalog.Value.FirstModel()!;
                    nodeOptions.Accelerators.Add(new AcceleratorOptions { Product = a.Product, Count = a.Count, Model = model });
                }

                var app = WorkerNodeHost.Build(
                    nodeOptions,
                    logging => logging.AddProvider(new ForwardingLoggerProvider(loggers)),
                    schedulerCa: frontDoorCertificate is { } served ? TrustedCa.Exactly(() => served.Current.Leaf) : null);
                if (fleet.InProcessLinks)
                {
                    // Before the node starts: it registers once it listens, and the silo opens its stream then.
                    inProcessLinks.Add(spec.NodeId, WorkerNodeHost.InProcessExecution(app));
                }

                await app.StartAsync(lifetime.ApplicationStopping);
                _nodes.Add(app);
                registrations.Add((spec.NodeId, app.Services.GetRequiredService<WorkerNode>().Registered));
            }

            try
            {
                await Task.WhenAll(registrations.Select(r => r.Registered)).WaitAsync(RegistrationTimeout, lifetime.ApplicationStopping);
            }
            catch (TimeoutException)
            {
                var missing = registrations.Where(r => !r.Registered.IsCompletedSuccessfully).Select(r => r.NodeId);
                throw new TimeoutException($"embedded nodes {string.Join(", ", missing)} did not register within {RegistrationTimeout.TotalSeconds:0} s (their warnings above say why)");
            }

            LogFleetReady(logger, _nodes.Count);
            _ready.TrySetResult();
        }
        catch (Exception ex)
        {
            LogFleetFailed(logger, ex);
            _ready.TrySetException(ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Embedded simulated fleet ready: {Nodes} worker nodes registered")]
    private static partial void LogFleetReady(ILogger logger, int nodes);

    [LoggerMessage(Level = LogLevel.Error, Message = "Embedded simulated fleet failed to start")]
    private static partial void LogFleetFailed(ILogger logger, Exception ex);
}
