namespace Scheduler.Standalone;

/// <summary>Accelerators of one product on an embedded worker node, serving one model.</summary>
public sealed class EmbeddedAcceleratorOptions
{
    public string Product { get; set; } = "H100";

    public int Count { get; set; } = 1;

    /// <summary>The model its replicas serve; unset, the model catalog's first (<c>Scheduler:Models:0:Name</c>), so a
    /// renamed model is served without naming it twice.</summary>
    public string? Model { get; set; }
}
