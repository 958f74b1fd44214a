using Microsoft.Extensions.Options;

namespace Scheduler.Silo.Models;

internal static class ModelsServiceCollectionExtensions
{
    /// <summary>Registers the model catalog, configured from <paramref name="configuration"/> (its "Models" list), and
    /// the models' replica capacity as their placements know it.</summary>
    public static IServiceCollection AddModelCatalog(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ModelCatalogOptions>().Bind(configuration).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ModelCatalogOptions>, ModelCatalogOptionsValidator>();
        services.AddSingleton<ModelCatalog>();
        services.AddSingleton<ModelCapacity>();
        return services;
    }
}
