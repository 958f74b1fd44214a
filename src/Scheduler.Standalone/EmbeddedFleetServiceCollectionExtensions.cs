using Microsoft.Extensions.Options;
using Scheduler.Silo.Hosting;

namespace Scheduler.Standalone;

internal static class EmbeddedFleetServiceCollectionExtensions
{
    /// <summary>Registers the embedded simulated fleet, configured from <paramref name="configuration"/>
    /// (<see cref="EmbeddedFleetOptions.Section"/>).</summary>
    public static IServiceCollection AddEmbeddedFleet(this IServiceCollection services, IConfigurationSection configuration)
    {
        services.AddSettings<EmbeddedFleetOptions>(configuration);
        services.AddSingleton<IValidateOptions<EmbeddedFleetOptions>, EmbeddedFleetOptionsValidator>();
        services.AddSingleton<EmbeddedFleet>();
        services.AddHostedService(sp => sp.GetRequiredService<EmbeddedFleet>());
        return services;
    }
}
