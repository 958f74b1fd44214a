using Scheduler.Grains.Nodes;

namespace Scheduler.Silo.Nodes;

internal static class NodesServiceCollectionExtensions
{
    /// <summary>Registers the gRPC execution streams to worker nodes, configured from <paramref name="configuration"/>
    /// (the node token).</summary>
    public static IServiceCollection AddNodeLinks(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<NodeOptions>(configuration);
        services.AddSingleton<INodeLinkFactory, GrpcNodeLinkFactory>();
        return services;
    }
}
