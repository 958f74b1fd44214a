namespace Scheduler.Standalone;

/// <summary>Accelerators of one product on an embedded worker node, serving one model.</summary>
public sealed class EmbeddedAcceleratorOptions
{
    public string Product { get; set; } = "H100";

    public int Count { get; set; } = 1;

    public string Model { get; set; } = "llama-3.1-8b";
}
