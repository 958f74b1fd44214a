using Scheduler.Grains.Nodes;

namespace Scheduler.Silo.Nodes;

internal static class NodesServiceCollectionExtensions
{
    /// <summary>Registers the gRPC execution streams to worker nodes, configured from <paramref name="configuration"/>
    /// (the node token, the CA of TLS node links).</summary>
    /// <exception cref="ArgumentException">The CA setting names no readable PEM file.</exception>
    public static IServiceCollection AddNodeLinks(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<NodeOptions>(configuration);
        services.AddSingleton(NodeLinkTrust.From(configuration.Get<NodeOptions>() ?? new NodeOptions()));
        services.AddSingleton<INodeLinkFactory, GrpcNodeLinkFactory>();
        return services;
    }
}
