namespace Scheduler.Silo.Models;

internal static class ModelsServiceCollectionExtensions
{
    /// <summary>Registers the model catalog, configured from <paramref name="configuration"/> (its "Models" list).</summary>
    public static IServiceCollection AddModelCatalog(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<ModelCatalogOptions>(configuration);
        services.AddSingleton<ModelCatalog>();
        return services;
    }
}
