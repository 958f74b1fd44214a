using Google.Rpc;
using Grpc.Health.V1;
using Grpc.Reflection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Scheduler.Protos.V1;
using ProtoService = Google.Protobuf.Reflection.ServiceDescriptor;
using ReflectionV1Alpha = Grpc.Reflection.V1Alpha.ServerReflection;
using ReflectionV1 = Grpc.Reflection.V1.ServerReflection;

namespace Scheduler.Silo.Api;

/// <summary>
/// What server reflection describes (v1 and v1alpha): the services the door maps, and the <c>google.rpc</c> types of
/// the rich error model its refusals carry in <c>grpc-status-details-bin</c> (<see cref="SchedulerErrors"/>). Those are
/// packed in <c>Any</c>, which no service's file imports, so grpc-dotnet's reflection (built from the mapped services'
/// files alone) could not resolve <c>google.rpc.ErrorInfo</c>: grpcurl, Postman and evans showed a refusal's details
/// as undecodable bytes.
/// </summary>
internal static class ReflectedSchema
{
    /// <summary>The services <see cref="ApiEndpointRouteBuilderExtensions.MapSchedulerApi"/> maps.</summary>
    private static readonly ProtoService[] Services =
    [
        InferenceService.Descriptor, AdminService.Descriptor, NodeRegistryService.Descriptor,
        Health.Descriptor, ReflectionV1.Descriptor, ReflectionV1Alpha.Descriptor,
    ];

    /// <summary>Registers server reflection of the door's services and its error details; map it with
    /// <c>MapGrpcReflectionService</c>.</summary>
    public static IServiceCollection AddSchedulerReflection(this IServiceCollection services)
    {
        services.AddGrpcReflection();
        var names = Services.Select(s => s.FullName).ToArray();
        // google/rpc/status.proto for the trailer's google.rpc.Status, error_details.proto for what it packs; a file's
        // imports come with it (RetryInfo's google.protobuf.Duration).
        var files = SymbolRegistry.FromFiles([.. Services.Select(s => s.File), StatusReflection.Descriptor, ErrorDetailsReflection.Descriptor]);
        services.Replace(ServiceDescriptor.Singleton(new ReflectionServiceImpl(names, files)));
        services.Replace(ServiceDescriptor.Singleton(new ReflectionV1ServiceImpl(names, files)));
        return services;
    }
}
