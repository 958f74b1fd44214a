namespace Scheduler.Silo.Models;

/// <summary>The models the scheduler accepts jobs for (section "Scheduler").</summary>
public sealed class ModelCatalogOptions
{
    public List<ModelOptions> Models { get; set; } = [];

    /// <summary>The catalog's first model, or null for none: what the standalone's embedded fleet serves, and its banner
    /// and demo use, where nothing names another. (A method, not a property: it is not a setting.)</summary>
    public string? FirstModel() => Models.FirstOrDefault()?.Name;
}
