namespace Scheduler.Standalone;

/// <summary>One embedded worker node.</summary>
public sealed class EmbeddedNodeOptions
{
    public string NodeId { get; set; } = "";

    public List<EmbeddedAcceleratorOptions> Accelerators { get; set; } = [];
}
