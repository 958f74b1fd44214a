namespace Scheduler.Grains.Tenants;

/// <summary>
/// The models this scheduler accepts jobs for (its <c>Scheduler:Models</c>): the placements a tenant's queued jobs can
/// wait in, each told when the tenant's weight changes. Configured rather than read from the catalog: the catalog lists a
/// model only once a node has registered for it, so a queue that filled before any node came was never told, and its
/// snapshot carries every tenant id besides.
/// </summary>
public interface IServedModels
{
    /// <summary>The models' names.</summary>
    IReadOnlyCollection<string> Names { get; }
}
