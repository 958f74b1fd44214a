using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using Scheduler.Grains;
using Scheduler.Grains.Jobs;
using Scheduler.Grains.Nodes;
using Scheduler.Protos.Settings;
using Scheduler.Protos.Tls;
using Scheduler.Silo.Api;
using Scheduler.Silo.Models;
using Scheduler.Silo.Nodes;
using Scheduler.Silo.OpenAi;
using Scheduler.Silo.Streaming;
using Scheduler.Silo.Telemetry;
using StackExchange.Redis;

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

    /// <summary>The exit code of a silo process whose settings were refused.</summary>
    public const int ConfigurationRefusedExitCode = 2;

    /// <summary>The exit code of a silo process that could not start (e.g. Redis unreachable, a port in use).</summary>
    public const int StartFailedExitCode = 1;

    /// <summary>The exit code of a silo process that found Redis had lost its data (<see cref="Persistence.StoreLossWatch"/>):
    /// restarted, it joins the store as it is now.</summary>
    public const int StoreLostExitCode = Persistence.StoreLossWatch.ExitCode;

    /// <summary>
    /// Runs a silo as its process's entry point does: builds it with <paramref name="build"/>, checks its settings,
    /// starts it, calls <paramref name="started"/>, and serves until it is asked to stop. Returns the process's exit
    /// code: 0 after a stop; <see cref="ConfigurationRefusedExitCode"/> when a setting was refused, after one line on
    /// stderr that names the key (a settings mistake deserves its message, not a stack trace and an abort);
    /// <see cref="StartFailedExitCode"/> when the silo could not start, after one line saying why (the host has
    /// logged the details), so that its supervisor restarts it.
    /// </summary>
    public static async Task<int> RunAsync(Func<WebApplication> build, Func<WebApplication, Task>? started = null)
    {
        WebApplication app;
        try
        {
            app = build();

            // A value that does not convert inside a list item: the binder dropped the whole item (a model, a tenant)
            // without a word.
            if (app.Services.GetRequiredService<KnownSettings>().Unconvertible(app.Configuration.GetSection(Section).AsEnumerable()) is { } unconvertible)
            {
                throw new ConfigurationRefusedException(unconvertible);
            }

            // The options validators, before the host starts: run by StartAsync they would fail it, and the host
            // would log the refusal with ~20 frames of stack before this line.
            app.Services.GetService<IStartupValidator>()?.Validate();
        }
        catch (Exception ex) when (Refusals(ex) is { } refusals)
        {
            foreach (var refusal in refusals)
            {
                await Console.Error.WriteLineAsync($"configuration refused: {refusal}");
            }

            return ConfigurationRefusedExitCode;
        }

        try
        {
            await app.StartAsync();
        }
        catch (Exception) when (app.Lifetime.ApplicationStopping.IsCancellationRequested)
        {
            // A stop asked while the silo was starting (a rollout's SIGTERM, Ctrl+C on a slow start) cancels the start:
            // the process ends as asked, not as a failure that reads "A task was canceled" and the restart code.
            await Console.Error.WriteLineAsync("silo stopped while starting: a stop was asked before it served");
            return 0;
        }
        catch (Exception ex)
        {
            await Console.Error.WriteLineAsync($"silo failed to start: {StartFailure(app, ex)}");

            // Not disposed: after a failed start Orleans' disposal never ends (its grain directory's membership loops
            // spin on a core), and a silo that could not reach Redis hung instead of exiting to be restarted. The
            // process is ending; the OS takes back what the silo held.
            return StartFailedExitCode;
        }

        await using (app)
        {
            try
            {
                if (started is not null)
                {
                    await started(app);
                }
            }
            catch (Exception ex) when (!app.Lifetime.ApplicationStopping.IsCancellationRequested)
            {
                // What the host runs once it serves (the standalone's embedded fleet and demo): a failure there ends the
                // process with its reason, not an unhandled exception's abort.
                await Console.Error.WriteLineAsync($"scheduler failed to start: {ex.GetType().Name}: {ex.Message}");
                return StartFailedExitCode;
            }
            catch (Exception)
            {
                // Cut short by a stop (Ctrl+C during the demo): the shutdown below is the one asked for.
            }

            await app.WaitForShutdownAsync();
        }

        return 0;
    }

    // Redis's own message names no address, and the operator's next question is which one: the setting without its
    // password (it was parsed once already, by ClusteringOptions.Validate). Orleans' listeners throw the bare
    // "Address already in use" of the socket, naming neither port (Kestrel's names its address, and is an IOException).
    // More than one settings class refused (or one read by another's validator, as the node token is by the tenant
    // seeding's) comes as an AggregateException: it aborted the silo with a page of stack trace (exit 134).
    private static IReadOnlyList<string>? Refusals(Exception ex) => ex switch
    {
        ConfigurationRefusedException or OptionsValidationException => [ex.Message],
        AggregateException aggregate when aggregate.InnerExceptions.All(e => e is OptionsValidationException) =>
            [.. aggregate.InnerExceptions.Select(e => e.Message).Distinct(StringComparer.Ordinal)],
        _ => null,
    };

    private static string StartFailure(WebApplication app, Exception ex) => ex switch
    {
        RedisConnectionException =>
            $"cannot reach Redis at Scheduler:Redis '{ConfigurationOptions.Parse(app.Configuration[$"{Section}:Redis"] ?? "").ToString(includePassword: false)}': {ex.Message}",
        AddressInUseException when Settings.Read<ClusteringOptions>(app.Configuration.GetSection(Section)) is var clustering =>
            $"an Orleans port is in use, Scheduler:SiloPort {clustering.SiloPort} or Scheduler:GatewayPort {clustering.GatewayPort}: {ex.Message}",
        _ => $"{ex.GetType().Name}: {ex.Message}",
    };

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

        // The settings the build itself uses, read and checked now: a mistake stops the build with its key's name
        // (a ConfigurationRefusedException), not Kestrel, Orleans or the first connection.
        var listening = Settings.Read<ListeningOptions>(scheduler);
        var frontDoorCertificate = listening.Validate();
        var clustering = Settings.Read<ClusteringOptions>(scheduler);
        var redis = clustering.Validate();
        var dashboard = Settings.Read<DashboardOptions>(scheduler.GetSection(DashboardOptions.Section));
        if (frontDoorCertificate is not null)
        {
            builder.Services.AddSingleton(sp => new ServerCertificateReloader(
                frontDoorCertificate, listening.Tls.Files, listening.Tls.ReloadInterval, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<ServerCertificateReloader>>()));
        }

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            // Server-wide, but only the gRPC port speaks HTTP/2.
            kestrel.Limits.Http2.MaxStreamsPerConnection = listening.MaxStreamsPerConnection;

            // Counted per port: a flood of connections to one door leaves the others (the probes' HTTP port) their own.
            kestrel.Limits.MaxConcurrentConnections = listening.MaxConnectionsPerPort;

            // The OpenAI API's bodies (gRPC lifts this limit for its calls and holds each message to the same number).
            kestrel.Limits.MaxRequestBodySize = kestrel.ApplicationServices.GetRequiredService<IOptions<ApiOptions>>().Value.MaxReceiveMessageBytes;
            var ip = IPAddress.Parse(listening.BindAddress);
            var served = kestrel.ApplicationServices.GetService<ServerCertificateReloader>();
            kestrel.Listen(ip, listening.GrpcPort, listen => listen.UseFrontDoorTls(served).Protocols = HttpProtocols.Http2);

            // Cleartext always: Prometheus and the kubelet's probes reach it inside the cluster, and nothing on it
            // carries a key or a prompt.
            kestrel.Listen(ip, listening.HttpPort, listen => listen.Protocols = HttpProtocols.Http1);
            OpenAiListener.Listen(kestrel, ip, listening.OpenAiPort, served);
        });

        builder.UseOrleans(silo =>
        {
            ClusterHosting.Configure(silo, clustering, redis);
            silo.AddSchedulerDashboard(dashboard);
        });

        var services = builder.Services;
        var scheduling = builder.Configuration.GetSection(PlacementOptions.Section);
        services.AddSettings<PlacementOptions>(scheduling).PostConfigure(o => JobRetentionSettings.Apply(scheduling, o));
        services.AddHostedService<JobRetentionSettings>();
        services.AddSingleton<IValidateOptions<PlacementOptions>, CapacityOptionsValidator>();
        services.AddSingleton<IValidateOptions<PlacementOptions>, JobRetentionOptionsValidator>();
        services.AddSingleton<IValidateOptions<PlacementOptions>, WaitCostOptionsValidator>();
        services.AddSingleton<IValidateOptions<PlacementOptions>, PolicyNamesOptionsValidator>();
        services.AddSingleton<IValidateOptions<PlacementOptions>, SchedulingBoundsOptionsValidator>();
        services.DeclareSettings<ClusteringOptions>(scheduler).DeclareSettings<DashboardOptions>(scheduler.GetSection(DashboardOptions.Section))
            .DeclareSettings<KubernetesOptions>(scheduler.GetSection(KubernetesOptions.Section))
            .AddHostedService<UnknownSettingsReporter>()
            .AddHostedService<StartupReport>()
            .AddSingleton(sp => new KnownSettings(sp.GetServices<SettingsSection>().Select(s => (s.Path, s.Type))));
        services.AddSingleton(TimeProvider.System);
        services.AddWatchdogStallFilter();
        services.AddSingleton<GrainReferences>();
        services.AddSingleton<JobSettlement>();
        services.AddSingleton<OwnedStateWrites>();
        services.AddSingleton<LocalNodeLinks>();
        services.AddSchedulerTelemetry(builder.Configuration, scheduler);
        services.AddModelCatalog(scheduler);
        services.AddJobStreaming();
        services.AddNodeLinks(scheduler);
        services.AddSchedulerApi(scheduler);
        services.AddOpenAiApi();
        services.AddSettings<ListeningOptions>(scheduler);
        services.AddSingleton<ListeningAddresses>();
        services.AddSettings<TenantSeedingOptions>(scheduler);
        services.AddSingleton<IValidateOptions<TenantSeedingOptions>, TenantSeedingOptionsValidator>().AddHostedService<TenantSeeder>();
        return builder;
    }

    /// <summary>Maps the gRPC services, the OpenAI-compatible API, /metrics, /healthz, /readyz and /dashboard on a built silo.</summary>
    public static WebApplication MapEndpoints(WebApplication app)
    {
        app.UseMiddleware<ReceiveLimitStatus>();
        app.UseMiddleware<RequestMessageBudget>();
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
