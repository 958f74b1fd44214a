using Scheduler.Grains.Nodes;
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
        services.AddSingleton(ReadTrust(Settings.Read<NodeOptions>(configuration)));
        services.AddSingleton<INodeLinkFactory, GrpcNodeLinkFactory>();
        return services;
    }

    private static NodeLinkTrust ReadTrust(NodeOptions options)
    {
        try
        {
            return NodeLinkTrust.From(options);
        }
        catch (ArgumentException ex)
        {
            throw ConfigurationRefusedException.From(ex);
        }
    }
}
