using Scheduler.Silo.Hosting;

namespace Scheduler.Standalone;

/// <summary>Worker nodes hosted inside this process on loopback ports (section "Scheduler:EmbeddedFleet").</summary>
public sealed class EmbeddedFleetOptions
{
    public const string Section = SchedulerHost.Section + ":EmbeddedFleet";

    public bool Enabled { get; set; }

    /// <summary>Speed-up applied to every simulated accelerator ("instant" or a factor; 1 = real time).</summary>
    public string SpeedUp { get; set; } = "1";

    /// <summary>
    /// Whether the silo reaches the nodes' execution streams in-process (true, the default) or over gRPC on loopback
    /// like remote nodes (false: the production path, with its serialization and sockets). Registration and heartbeats
    /// go over gRPC either way.
    /// </summary>
    public bool InProcessLinks { get; set; } = true;

    public List<EmbeddedNodeOptions> Nodes { get; set; } = [];
}
