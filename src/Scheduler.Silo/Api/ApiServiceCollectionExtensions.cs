using Grpc.AspNetCore.Server;
using Grpc.AspNetCore.Server.Model;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Scheduler.Protos.V1;
using Scheduler.Silo.Hosting;

namespace Scheduler.Silo.Api;

internal static class ApiServiceCollectionExtensions
{
    /// <summary>The names <c>grpc.health.v1.Health</c> answers for: the whole server, and each service of the door.</summary>
    private static readonly string[] HealthCheckedServices =
        ["", InferenceService.Descriptor.FullName, AdminService.Descriptor.FullName, NodeRegistryService.Descriptor.FullName];

    /// <summary>
    /// Registers the gRPC front door, configured from <paramref name="configuration"/>: authentication, validation,
    /// error mapping, strict request parsing and decompression, the drain, the health service and server reflection. Map it with
    /// <see cref="ApiEndpointRouteBuilderExtensions.MapSchedulerApi"/>. Call it after anything else that adds gRPC.
    /// </summary>
    public static IServiceCollection AddSchedulerApi(this IServiceCollection services, IConfigurationSection configuration)
    {
        services.AddSettings<ApiOptions>(configuration);
        services.AddSingleton<IValidateOptions<ApiOptions>, ApiOptionsValidator>();
        services.AddSingleton<JobRequestValidator>();
        services.AddSingleton<ApiKeyCache>();
        services.AddSingleton<AdminKeys>();
        services.AddSingleton<AuthFailureGuard>();
        services.AddSingleton<Credentials>();
        services.AddSingleton<AdminAudit>();
        services.AddSingleton<TenantKeys>();
        services.AddSingleton<JobSubmissions>();
        services.AddSingleton<RequestBodyBudget>();
        services.AddSingleton<RequestMessageBudget>();
        services.AddSingleton<MissingJobs>();
        services.AddSingleton<JobMultiplexer>();
        services.AddSingleton<JobListing>();
        // Interceptors registered in DI are resolved from it: one each for the silo's life, instead of grpc-dotnet's
        // default of one constructed (and its node-token hash computed) per call.
        services.AddSingleton<ErrorInterceptor>();
        services.AddSingleton<AuthInterceptor>();
        services.AddGrpc(grpc =>
        {
            // The request message's bytes are given back first, as soon as it is parsed; error mapping is outermost
            // after it, so statuses raised by authentication pass through untouched.
            grpc.Interceptors.Add<RequestMessageBudget>();
            grpc.Interceptors.Add<ErrorInterceptor>();
            grpc.Interceptors.Add<AuthInterceptor>();
            grpc.CompressionProviders = StrictDecompressionProvider.Defaults();
        });
        services.AddOptions<GrpcServiceOptions>()
            .Configure<IOptions<ApiOptions>>((grpc, api) => grpc.MaxReceiveMessageSize = api.Value.MaxReceiveMessageBytes);
        services.AddSingleton<SiloDrain>();
        // Each service this door serves answers a health check by its name as the whole server ("") does: a client that
        // checks a service by name (gRPC's client-side health checking, a Kubernetes probe's `service`, Envoy) was answered
        // NOT_FOUND, and took a serving silo for down.
        services.AddGrpcHealthChecks(health =>
        {
            foreach (var service in HealthCheckedServices)
            {
                health.Services.Map(service, static _ => true);
            }
        }).AddCheck<SiloDrain>("drain");
        services.AddSchedulerReflection();

        // Requests that do not parse get INVALID_ARGUMENT, not UNKNOWN: our binder replaces grpc-dotnet's (after every
        // AddGrpc* call, which would register it again).
        services.RemoveAll(typeof(IServiceMethodProvider<>));
        services.AddSingleton(typeof(IServiceMethodProvider<>), typeof(StrictParsingMethodProvider<>));
        return services;
    }
}
