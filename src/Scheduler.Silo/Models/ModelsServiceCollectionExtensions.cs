using Microsoft.Extensions.Options;
using Scheduler.Grains.Tenants;
using Scheduler.Silo.Hosting;

namespace Scheduler.Silo.Models;

internal static class ModelsServiceCollectionExtensions
{
    /// <summary>Registers the model catalog, configured from <paramref name="configuration"/> (its "Models" list), and
    /// the models' replica capacity as their placements know it; the grains see the catalog's names as
    /// <see cref="IServedModels"/>.</summary>
    public static IServiceCollection AddModelCatalog(this IServiceCollection services, IConfigurationSection configuration)
    {
        services.AddSettings<ModelCatalogOptions>(configuration);
        services.AddSingleton<IValidateOptions<ModelCatalogOptions>, ModelCatalogOptionsValidator>();
        services.AddSingleton<ModelCatalog>();
        services.AddSingleton<IServedModels>(sp => sp.GetRequiredService<ModelCatalog>());
        services.AddSingleton<ModelCapacity>();
        return services;
    }
}
