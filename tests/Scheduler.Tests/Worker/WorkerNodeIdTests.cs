using Microsoft.Extensions.Configuration;
using Scheduler.Worker.Hosting;

namespace Scheduler.Tests.Worker;

/// <summary>A worker's default node id is the same at every start (an outside probe found every restart made a new
/// node, the last one shown lost for the silos' lifetime), and tells two workers on one host apart by their port.</summary>
public sealed class WorkerNodeIdTests
{
    private static readonly string Machine = Environment.MachineName.ToLowerInvariant();

    [Fact]
    public void DefaultNodeId_IsTheMachineNameAndPort_TheSameAtEveryStart()
    {
        var first = new WorkerNodeOptions { Port = 5100 };
        var restarted = new WorkerNodeOptions { Port = 5100 };
        var neighbour = new WorkerNodeOptions { Port = 5101 };

        Assert.Equal($"{Machine}-5100", first.NodeId);
        Assert.Equal(first.NodeId, restarted.NodeId);
        Assert.NotEqual(first.NodeId, neighbour.NodeId);
        Assert.True(first.HasStableNodeId);
    }

    [Fact]
    public void NodeId_Set_WinsOverThePort_AndAnyFreePortHasNoStableDefault()
    {
        Assert.Equal("gpu-a", new WorkerNodeOptions { Port = 5100, NodeId = "gpu-a" }.NodeId);
        Assert.True(new WorkerNodeOptions { NodeId = "gpu-a" }.HasStableNodeId);

        var anyPort = new WorkerNodeOptions();
        Assert.False(anyPort.HasStableNodeId);
        Assert.StartsWith($"{Machine}-", anyPort.NodeId, StringComparison.Ordinal);
        Assert.Equal(anyPort.NodeId, anyPort.NodeId);
        Assert.NotEqual(anyPort.NodeId, new WorkerNodeOptions().NodeId);
    }

    [Fact]
    public void BoundFromSettings_WithoutNodeId_TakesTheDefaultOfTheBoundPort()
    {
        // As the worker's Program binds them: the binder may read the id before it binds the port.
        var settings = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Worker:Port"] = "5102" }).Build();
        var options = new WorkerNodeOptions();
        settings.GetSection(WorkerNodeOptions.SectionName).Bind(options);

        Assert.Equal($"{Machine}-5102", options.NodeId);
    }
}
