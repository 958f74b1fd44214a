using Scheduler.Silo.Hosting;

namespace Scheduler.Standalone;

/// <summary>Worker nodes hosted inside this process on loopback ports (section "Scheduler:EmbeddedFleet").</summary>
public sealed class EmbeddedFleetOptions
{
    public const string Section = SchedulerHost.Section + ":EmbeddedFleet";

    public bool Enabled { get; set; }

    /// <summary>Speed-up applied to every simulated accelerator ("instant" or a factor; 1 = real time).</summary>
    public string SpeedUp { get; set; } = "1";

    public List<EmbeddedNodeOptions> Nodes { get; set; } = [];
}
