namespace Scheduler.Silo.Api;

internal static class ApiEndpointRouteBuilderExtensions
{
    /// <summary>Maps InferenceService, AdminService, NodeRegistryService and the gRPC health service.</summary>
    public static IEndpointRouteBuilder MapSchedulerApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGrpcService<InferenceGrpcService>();
        endpoints.MapGrpcService<AdminGrpcService>();
        endpoints.MapGrpcService<NodeRegistryGrpcService>();
        endpoints.MapGrpcHealthChecksService();
        return endpoints;
    }
}
