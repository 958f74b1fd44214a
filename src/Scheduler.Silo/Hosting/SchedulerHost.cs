using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using Scheduler.Grains;
using Scheduler.Grains.Jobs;
using Scheduler.Grains.Nodes;
using Scheduler.Silo.Api;
using Scheduler.Silo.Models;
using Scheduler.Silo.Nodes;
using Scheduler.Silo.OpenAi;
using Scheduler.Silo.Streaming;
using Scheduler.Silo.Telemetry;

namespace Scheduler.Silo.Hosting;

/// <summary>
/// Builds a scheduler silo: Orleans, the gRPC front door on an HTTP/2 port and the OpenAI-compatible API on an HTTP/1.1
/// port of its own (both TLS when a certificate is configured), and /metrics, /healthz, /readyz and the Orleans
/// dashboard on a cleartext HTTP/1.1 port. The composition root: each feature registers itself; none of them
/// knows this class. Tests and benchmarks host it in-process on free ports.
/// </summary>
public static class SchedulerHost
{
    /// <summary>The configuration section every silo setting lives in.</summary>
    public const string Section = "Scheduler";

    /// <summary>Builds (does not start) a silo configured from appsettings.json, environment variables and
    /// <paramref name="args"/>; <paramref name="configure"/> may change those sources first.</summary>
    public static WebApplication Build(string[] args, Action<IConfigurationBuilder>? configure = null) =>
        MapEndpoints(CreateBuilder(args, configure).Build());

    /// <summary>Starts a built silo, as its process's entry point does; false when a setting was refused, after writing
    /// the refusal (which names the key) to stderr: a settings mistake deserves its message, not a stack trace and an
    /// abort. The process should then exit with code 2.</summary>
    public static async Task<bool> TryStartAsync(WebApplication app)
    {
        try
        {
            await app.StartAsync();
            return true;
        }
        catch (OptionsValidationException ex)
        {
            await Console.Error.WriteLineAsync($"configuration refused: {ex.Message}");
            return false;
        }
    }

    /// <summary>
    /// A builder with every part of the silo registered, for a host that adds its own services (the standalone
    /// scheduler's embedded fleet) before it builds; then map the endpoints with <see cref="MapEndpoints"/>.
    /// </summary>
    public static WebApplicationBuilder CreateBuilder(string[] args, Action<IConfigurationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
            ApplicationName = typeof(SchedulerHost).Assembly.GetName().Name,
        });
        configure?.Invoke(builder.Configuration);
        var scheduler = builder.Configuration.GetSection(Section);

        var listening = scheduler.Get<ListeningOptions>() ?? new ListeningOptions();
        // Read now, so a bad certificate setting stops the build with its name rather than the first connection.
        var frontDoorCertificate = listening.Validate();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            // Server-wide, but only the gRPC port speaks HTTP/2.
            kestrel.Limits.Http2.MaxStreamsPerConnection = listening.MaxStreamsPerConnection;
            var ip = IPAddress.Parse(listening.BindAddress);
            kestrel.Listen(ip, listening.GrpcPort, listen => listen.UseFrontDoorTls(frontDoorCertificate).Protocols = HttpProtocols.Http2);

            // Cleartext always: Prometheus and the kubelet's probes reach it inside the cluster, and nothing on it
            // carries a key or a prompt.
            kestrel.Listen(ip, listening.HttpPort, listen => listen.Protocols = HttpProtocols.Http1);
            OpenAiListener.Listen(kestrel, ip, listening.OpenAiPort, frontDoorCertificate);
        });

        builder.UseOrleans(silo =>
        {
            ClusterHosting.Configure(silo, scheduler.Get<ClusteringOptions>() ?? new ClusteringOptions());
            silo.AddSchedulerDashboard(scheduler.GetSection(DashboardOptions.Section).Get<DashboardOptions>() ?? new DashboardOptions());
        });

        var services = builder.Services;
        services.AddOptions<PlacementOptions>().Bind(builder.Configuration.GetSection(PlacementOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<PlacementOptions>, CapacityOptionsValidator>();
        services.AddSingleton<IValidateOptions<PlacementOptions>, JobRetentionOptionsValidator>();
        services.AddSingleton<IValidateOptions<PlacementOptions>, WaitCostOptionsValidator>();
        services.AddSingleton<IValidateOptions<PlacementOptions>, PolicyNamesOptionsValidator>();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<GrainReferences>();
        services.AddSingleton<JobSettlement>();
        services.AddSingleton<LocalNodeLinks>();
        services.AddSchedulerTelemetry(builder.Configuration, scheduler);
        services.AddModelCatalog(scheduler);
        services.AddJobStreaming();
        services.AddNodeLinks(scheduler);
        services.AddSchedulerApi(scheduler);
        services.AddOpenAiApi();
        services.Configure<ListeningOptions>(scheduler).AddSingleton<ListeningAddresses>();
        services.AddOptions<TenantSeedingOptions>().Bind(scheduler).ValidateOnStart();
        services.AddSingleton<IValidateOptions<TenantSeedingOptions>, TenantSeedingOptionsValidator>().AddHostedService<TenantSeeder>();
        return builder;
    }

    /// <summary>Maps the gRPC services, the OpenAI-compatible API, /metrics, /healthz, /readyz and /dashboard on a built silo.</summary>
    public static WebApplication MapEndpoints(WebApplication app)
    {
        app.MapSchedulerApi();
        app.MapOpenAiApi();
        app.MapPrometheusScrapingEndpoint();
        app.MapGet("/healthz", () => Results.Ok("ok"));

        // The gRPC health service's checks (the drain) over HTTP/1.1, for probes that cannot speak TLS: the kubelet's
        // gRPC probe cannot, so with a certificate on the gRPC port the chart probes readiness here.
        app.MapHealthChecks("/readyz");
        app.MapSchedulerDashboard();
        return app;
    }
}
