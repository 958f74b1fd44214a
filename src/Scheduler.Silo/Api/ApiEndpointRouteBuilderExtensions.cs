namespace Scheduler.Silo.Api;

internal static class ApiEndpointRouteBuilderExtensions
{
    /// <summary>Maps InferenceService, AdminService, NodeRegistryService, the gRPC health service and server
    /// reflection (grpcurl and Postman list and call the services without the .proto files; it needs no key, as it
    /// tells nothing the published protos do not).</summary>
    public static IEndpointRouteBuilder MapSchedulerApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGrpcService<InferenceGrpcService>();
        endpoints.MapGrpcService<AdminGrpcService>();
        endpoints.MapGrpcService<NodeRegistryGrpcService>();
        endpoints.MapGrpcHealthChecksService();
        endpoints.MapGrpcReflectionService();
        return endpoints;
    }
}
