using Microsoft.Extensions.Options;
using Scheduler.Grains.Nodes;
using Scheduler.Protos.Tls;
using Scheduler.Silo.Hosting;

namespace Scheduler.Silo.Nodes;

internal static class NodesServiceCollectionExtensions
{
    /// <summary>Registers the gRPC execution streams to worker nodes, configured from <paramref name="configuration"/>
    /// (the node token, the CA of TLS node links).</summary>
    /// <exception cref="ConfigurationRefusedException">The CA setting names no readable PEM file.</exception>
    public static IServiceCollection AddNodeLinks(this IServiceCollection services, IConfigurationSection configuration)
    {
        services.AddSettings<NodeOptions>(configuration);
        services.AddSingleton<IValidateOptions<NodeOptions>, NodeOptionsValidator>();
        var trustedCa = ReadCa(Settings.Read<NodeOptions>(configuration));
        var reloadInterval = Settings.Read<ListeningOptions>(configuration).Tls.ReloadInterval;
        services.AddSingleton(sp => new NodeLinkTrust(
            trustedCa, reloadInterval, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<NodeLinkTrust>>()));
        services.AddSingleton<InProcessNodeLinks>();
        services.AddSingleton<INodeLinkFactory, GrpcNodeLinkFactory>();
        return services;
    }

    private static TrustedCa? ReadCa(NodeOptions options)
    {
        try
        {
            return NodeLinkTrust.ReadCa(options);
        }
        catch (ArgumentException ex)
        {
            throw ConfigurationRefusedException.From(ex);
        }
    }
}
