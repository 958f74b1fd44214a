using System.Net;
using Grpc.AspNetCore.Server.Model;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Orleans.Configuration;
using SchedulingOptions = Scheduler.Grains.SchedulingOptions;
using Orleans.Dashboard;
using Orleans.Serialization;
using Orleans.Storage;
using Scheduler.Grains;
using Scheduler.Grains.Nodes;
using Scheduler.Silo.Api;
using Scheduler.Silo.Models;
using Scheduler.Silo.Nodes;
using Scheduler.Silo.Streaming;
using Scheduler.Silo.Telemetry;

namespace Scheduler.Silo.Hosting;

/// <summary>
/// Builds a scheduler silo: Orleans, the gRPC front door on a cleartext HTTP/2 port, and /metrics, /healthz and
/// the Orleans dashboard on an HTTP/1.1 port. Tests and benchmarks host it in-process on free ports.
/// </summary>
public static class SchedulerHost
{
    public static WebApplication Build(string[] args, Action<IConfigurationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
            ApplicationName = typeof(SchedulerHost).Assembly.GetName().Name,
        });
        configure?.Invoke(builder.Configuration);
        var options = builder.Configuration.GetSection(SchedulerOptions.Section).Get<SchedulerOptions>() ?? new SchedulerOptions();

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            var ip = IPAddress.Parse(options.BindAddress);
            kestrel.Listen(ip, options.GrpcPort, listen => listen.Protocols = HttpProtocols.Http2);
            kestrel.Listen(ip, options.HttpPort, listen => listen.Protocols = HttpProtocols.Http1);
        });

        builder.UseOrleans(silo =>
        {
            ClusterHosting.Configure(silo, options);
            silo.AddDashboard();
        });

        var services = builder.Services;
        services.Configure<SchedulerOptions>(builder.Configuration.GetSection(SchedulerOptions.Section));
        services.Configure<SchedulingOptions>(builder.Configuration.GetSection(SchedulingOptions.Section));
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<SchedulerTelemetry>();
        services.AddSingleton<ModelCatalog>();
        services.AddSingleton<ModelCapacity>();
        services.AddSingleton<JobRequestValidator>();
        services.AddSingleton<ApiKeyCache>();
        services.AddSingleton<JobEventHub>();
        services.AddSingleton<StreamBackfill>();
        services.AddSingleton<INodeLinkFactory, GrpcNodeLinkFactory>();
        services.AddSingleton<ListeningAddresses>();
        services.AddHostedService<TenantSeeder>();
        services.AddSingleton<EmbeddedFleet>();
        services.AddHostedService(sp => sp.GetRequiredService<EmbeddedFleet>());

        services.AddGrpc(grpc =>
        {
            // Error mapping is outermost, so statuses raised by authentication pass through untouched.
            grpc.Interceptors.Add<ErrorInterceptor>();
            grpc.Interceptors.Add<AuthInterceptor>();
            grpc.MaxReceiveMessageSize = options.MaxReceiveMessageBytes;
        });
        services.AddSingleton<SiloDrain>();
        services.AddGrpcHealthChecks().AddCheck<SiloDrain>("drain");

        // Requests that do not parse get INVALID_ARGUMENT, not UNKNOWN: our binder replaces grpc-dotnet's (after every
        // AddGrpc* call, which would register it again).
        services.RemoveAll(typeof(IServiceMethodProvider<>));
        services.AddSingleton(typeof(IServiceMethodProvider<>), typeof(StrictParsingMethodProvider<>));
        // OTLP export is on when the standard OTEL_EXPORTER_OTLP_ENDPOINT variable names a collector.
        var otlp = !string.IsNullOrEmpty(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        services.AddOpenTelemetry()
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(SchedulerTelemetry.Name, "Microsoft.Orleans").AddPrometheusExporter();
                if (otlp)
                {
                    metrics.AddOtlpExporter();
                }
            })
            .WithTracing(tracing =>
            {
                tracing.AddSource(SchedulerTelemetry.Name, "Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application");
                if (otlp)
                {
                    tracing.AddOtlpExporter();
                }
            });

        var app = builder.Build();
        app.MapGrpcService<InferenceGrpcService>();
        app.MapGrpcService<AdminGrpcService>();
        app.MapGrpcService<NodeRegistryGrpcService>();
        app.MapGrpcHealthChecksService();
        app.MapPrometheusScrapingEndpoint();
        app.MapGet("/healthz", () => Results.Ok("ok"));
        app.MapOrleansDashboard(routePrefix: "/dashboard");
        return app;
    }
}
