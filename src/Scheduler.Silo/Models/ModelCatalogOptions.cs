namespace Scheduler.Silo.Models;

/// <summary>The models the scheduler accepts jobs for (section "Scheduler").</summary>
public sealed class ModelCatalogOptions
{
    public List<ModelOptions> Models { get; set; } = [];
}
