using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Scheduler.Client;
using Scheduler.Silo.Hosting;
using Scheduler.Silo.Nodes;
using Scheduler.Worker.Hosting;

namespace Scheduler.Tests.EndToEnd;

/// <summary>
/// A silo hosted in this process without an embedded fleet, serving one model to one tenant, and the worker nodes a
/// test starts against it (hosted here too, registered over loopback gRPC): what the end-to-end tests of one engine or
/// one placement rule share. Disposing stops the nodes, then the silo.
/// </summary>
internal sealed class LoopbackScheduler : IAsyncDisposable
{
    public const string AdminKey = "loopback-admin-key";
    public const string NodeToken = "loopback-node-token";

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private readonly WebApplication _silo;
    private readonly List<WebApplication> _nodes = [];

    private LoopbackScheduler(WebApplication silo)
    {
        _silo = silo;
        var addresses = silo.Services.GetRequiredService<ListeningAddresses>();
        (Address, OpenAiAddress) = (addresses.Grpc, addresses.OpenAi);
    }

    /// <summary>The silo's gRPC address.</summary>
    public string Address { get; }

    /// <summary>The silo's OpenAI-compatible API.</summary>
    public string OpenAiAddress { get; }

    /// <summary>Starts a silo serving <paramref name="model"/> to the tenant <paramref name="tenantId"/> with
    /// <paramref name="tenantKey"/>; <paramref name="settings"/> (command-line form) add to or override the model's and
    /// the scheduler's settings.</summary>
    public static async Task<LoopbackScheduler> StartAsync(string model, string tenantId, string tenantKey, params string[] settings)
    {
        var silo = SchedulerHost.Build(
        [
            "--Scheduler:GrpcPort=0", "--Scheduler:HttpPort=0", "--Scheduler:OpenAiPort=0",
            $"--Scheduler:SiloPort={FreePort.Next()}", $"--Scheduler:GatewayPort={FreePort.Next()}",
            $"--Scheduler:AdminApiKey={AdminKey}", $"--Scheduler:NodeToken={NodeToken}", "--Scheduler:EmbeddedFleet:Enabled=false",
            $"--Scheduler:Models:0:Name={model}",
            $"--Scheduler:Tenants:0:Id={tenantId}", $"--Scheduler:Tenants:0:ApiKey={tenantKey}",
            "--Logging:LogLevel:Default=Warning",
            .. settings,
        ]);
        await silo.StartAsync();
        return new LoopbackScheduler(silo);
    }

    /// <summary>A service of the silo (its model catalog, say).</summary>
    public T Service<T>()
        where T : notnull => _silo.Services.GetRequiredService<T>();

    /// <summary>Starts a worker node with <paramref name="options"/> against this silo and waits until it registered.</summary>
    /// <param name="options">The node's settings.</param>
    /// <param name="inProcessLink">Whether the silo reaches the node's execution stream in-process, as the standalone
    /// reaches its embedded fleet, rather than over loopback gRPC.</param>
    /// <param name="logging">Log providers for the node.</param>
    public async Task StartNodeAsync(WorkerNodeOptions options, bool inProcessLink = false, Action<ILoggingBuilder>? logging = null)
    {
        options.SchedulerAddress = Address;
        options.NodeToken = NodeToken;

        // The nodes stop with the test, before its silo: a drain would only wait for jobs nobody follows any more.
        options.DrainTimeoutSeconds = 0;
        var node = WorkerNodeHost.Build(options, logging);
        if (inProcessLink)
        {
            Service<InProcessNodeLinks>().Add(options.NodeId, WorkerNodeHost.InProcessExecution(node));
        }

        _nodes.Add(node);
        await node.StartAsync();
        await node.Services.GetRequiredService<WorkerNode>().Registered.WaitAsync(Timeout);
    }

    /// <summary>Waits until <paramref name="count"/> replicas of <paramref name="model"/> are ready for placement.</summary>
    public async Task WaitForReadyReplicas(string model, int count = 1)
    {
        using var admin = new SchedulerAdminClient(Address, AdminKey);
        await Polling.Until(
            async () => (await admin.ListReplicasAsync(model)).Count(r => r.State == "ready") >= count,
            $"{count} replicas of {model} are ready",
            Timeout,
            TimeSpan.FromMilliseconds(100));
    }

    /// <summary>Stops the node started with <paramref name="nodeId"/>, as its host stopping would.</summary>
    public async Task StopNodeAsync(string nodeId)
    {
        var node = _nodes.Single(n => n.Services.GetRequiredService<WorkerNodeOptions>().NodeId == nodeId);
        _nodes.Remove(node);
        await node.StopAsync();
        await node.DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            await node.StopAsync();
            await node.DisposeAsync();
        }

        await _silo.StopAsync();
        await _silo.DisposeAsync();
    }
}
