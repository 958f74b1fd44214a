using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Scheduler.Protos.V1;

namespace Scheduler.Worker.Hosting;

/// <summary>
/// A running worker node as its host sees it: its id, the address the scheduler reaches it at (known once the
/// host has started, since port 0 means "any free port"), and whether it has registered yet.
/// Resolve it from the host's services: <c>app.Services.GetRequiredService&lt;WorkerNode&gt;()</c>.
/// </summary>
public sealed class WorkerNode
{
    private readonly IServer _server;
    private readonly NodeInventory _inventory;
    private readonly string _advertisedHost;
    private readonly string _scheme;
    private readonly int _healthPort;
    private readonly TaskCompletionSource _registered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private string? _address;

    internal WorkerNode(IServer server, NodeInventory inventory, WorkerNodeOptions options, bool secure)
    {
        _server = server;
        _inventory = inventory;
        _advertisedHost = options.AdvertisedHost;
        _healthPort = options.HealthPort;
        _scheme = secure ? "https" : "http";
    }

    public string NodeId => _inventory.NodeId;

    /// <summary>Random per start of this process: the scheduler tells this process from another one given the same
    /// <see cref="NodeId"/> by it (see <c>NodeDescription.instance_id</c>).</summary>
    public string InstanceId { get; } = Guid.NewGuid().ToString("N");

    /// <summary>Where the scheduler reaches this node's WorkerService, e.g. "http://127.0.0.1:5101" (https:// when the
    /// node serves TLS).</summary>
    /// <exception cref="InvalidOperationException">The host has not started listening yet.</exception>
    public string Address => _address ??= ResolveAddress();

    /// <summary>Completes when the scheduler first accepts the node's registration.</summary>
    public Task Registered => _registered.Task;

    /// <summary>Whether the node has registered with a scheduler (at least once).</summary>
    public bool IsRegistered => _registered.Task.IsCompleted;

    /// <summary>The node as announced to the scheduler.</summary>
    public NodeDescription Describe()
    {
        var description = _inventory.Describe(Address);
        description.InstanceId = InstanceId;
        return description;
    }

    internal void MarkRegistered() => _registered.TrySetResult();

    private string ResolveAddress()
    {
        var bound = _server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault(a => _healthPort <= 0 || new Uri(a).Port != _healthPort)
            ?? throw new InvalidOperationException("The worker node is not listening yet: start its host first.");

        // Kestrel reports the real port once bound, but the host as bound (e.g. 0.0.0.0), which is not reachable.
        var host = IPAddress.TryParse(_advertisedHost, out var ip) && ip.AddressFamily == AddressFamily.InterNetworkV6
            ? $"[{_advertisedHost}]"
            : _advertisedHost;
        return $"{_scheme}://{host}:{new Uri(bound).Port}";
    }
}
