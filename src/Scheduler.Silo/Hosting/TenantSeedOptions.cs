namespace Scheduler.Silo.Hosting;

/// <summary>One tenant to create at start-up.</summary>
public sealed class TenantSeedOptions
{
    public string Id { get; set; } = "";

    public string ApiKey { get; set; } = "";

    public double Weight { get; set; } = 1;

    public int MaxQueuedJobs { get; set; }
}
