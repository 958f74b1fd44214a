using System.Diagnostics.Metrics;
using System.Net;
using Grpc.Core;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Scheduler.Protos.Settings;
using Scheduler.Protos.Tls;
using Scheduler.Worker.Engines;
using Scheduler.Worker.Registration;
using Scheduler.Worker.Services;
using Scheduler.Worker.Services.InProcess;
using Scheduler.Worker.Telemetry;

namespace Scheduler.Worker.Hosting;

/// <summary>
/// Builds a worker node host: WorkerService and the standard gRPC health service on one HTTP/2 endpoint (TLS when
/// a certificate is configured), optionally a cleartext endpoint for probes and /metrics, the engines' step loops, and the registration with the scheduler (started once the endpoint listens).
/// </summary>
/// <example>
/// Hosting a node in-process:
/// <code>
/// var app = WorkerNodeHost.Build(new WorkerNodeOptions { SchedulerAddress = "http://127.0.0.1:5000", SpeedUp = "instant" });
/// await app.StartAsync();
/// var node = app.Services.GetRequiredService&lt;WorkerNode&gt;(); // node.Address, node.Registered
/// ...
/// await app.StopAsync(); await app.DisposeAsync();
/// </code>
/// </example>
public static class WorkerNodeHost
{
    /// <summary>Builds (does not start) a worker node host from <paramref name="options"/> alone: no configuration
    /// files are read, so a host process embedding the node keeps its own settings to itself.</summary>
    /// <param name="options">The node's settings; validated here.</param>
    /// <param name="logging">Adds log providers and filters; without it the node logs nothing.</param>
    /// <param name="telemetry">Settings holding the standard OTEL_* variables: with OTEL_EXPORTER_OTLP_ENDPOINT set,
    /// the node exports its metrics and its sequences' spans over OTLP; OTEL_SERVICE_NAME replaces "scheduler-worker".
    /// Only the OTEL_* keys are read.</param>
    /// <param name="schedulerCa">What the node trusts when it registers at an https:// scheduler address, in place of
    /// <c>Worker:Tls:TrustedCaPath</c>: for a host process that embeds nodes and knows better (the standalone's nodes
    /// trust exactly the certificate their silo serves).</param>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    public static WebApplication Build(WorkerNodeOptions options, Action<ILoggingBuilder>? logging = null, IConfiguration? telemetry = null, TrustedCa? schedulerCa = null)
    {
        if (options.Port is < 0 or > 65535)
        {
            throw new ArgumentException($"Worker:Port must be a port from 0 to 65535 (0 = any free port), not {options.Port}.", nameof(options));
        }

        if (options.HealthPort is < 0 or > 65535 || (options.HealthPort > 0 && options.HealthPort == options.Port))
        {
            throw new ArgumentException($"Worker:HealthPort must be 0 (none) or a port from 1 to 65535 other than Worker:Port, not {options.HealthPort}.", nameof(options));
        }

        if (!double.IsFinite(options.DrainTimeoutSeconds) || options.DrainTimeoutSeconds is < 0 or > 3600)
        {
            throw new ArgumentException($"Worker:DrainTimeoutSeconds must be from 0 (hand everything back at once) to 3600, not {options.DrainTimeoutSeconds}.", nameof(options));
        }

        if (BearerSecret.Problem(options.NodeToken) is { } tokenProblem)
        {
            // The token authenticates the node to the scheduler and the scheduler to the node, with or without a
            // scheduler address: never worth starting without one that works.
            throw new ArgumentException($"Worker:NodeToken (environment Worker__NodeToken) {tokenProblem}: it must be the scheduler's Scheduler:NodeToken.", nameof(options));
        }

        var tls = WorkerTls.From(options.Tls);
        if (schedulerCa is not null)
        {
            tls = tls with { SchedulerCa = schedulerCa };
        }

        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = typeof(WorkerNodeHost).Assembly.GetName().Name });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel => Listen(kestrel, options, kestrel.ApplicationServices.GetService<ServerCertificateReloader>()));
        logging?.Invoke(builder.Logging);

        var services = builder.Services;
        services.AddSingleton(options);
        services.AddSingleton(tls);
        if (tls.Certificate is { } certificate)
        {
            services.AddSingleton(sp => new ServerCertificateReloader(
                certificate, options.Tls.Files, options.Tls.ReloadInterval, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<ServerCertificateReloader>>()));
        }

        // Created by the container, which disposes it (and the models it loaded) with the host.
        services.AddSingleton(_ => NodeInventory.Create(options));
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(new Jitter(Random.Shared));
        services.AddSingleton(sp => new WorkerNode(sp.GetRequiredService<IServer>(), sp.GetRequiredService<NodeInventory>(), options, secure: tls.Certificate is not null));
        services.AddMetrics();
        services.AddSingleton(sp => new WorkerTelemetry(sp.GetRequiredService<IMeterFactory>(), sp.GetService<ServerCertificateReloader>()));
        services.AddSingleton<StepReportRouter>();
        services.AddSingleton<IStepReportSink>(sp => sp.GetRequiredService<StepReportRouter>());
        services.AddSingleton<ReplicaEngines>();
        services.AddHostedService(sp => sp.GetRequiredService<ReplicaEngines>());
        services.AddSingleton<ExecuteSessions>();
        services.AddSingleton<NodeTokenInterceptor>();
        services.AddSingleton<SchedulerRegistration>();
        services.AddHostedService(sp => sp.GetRequiredService<SchedulerRegistration>());
        services.AddSingleton<NodeDrain>();
        services.AddHostedService(sp => sp.GetRequiredService<NodeDrain>());

        // The host's own bound on stopping must outlast the drain, or it would cut it short.
        services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(options.DrainTimeoutSeconds) + TimeSpan.FromSeconds(10));
        services.AddRouting();
        services.AddGrpc().AddServiceOptions<WorkerGrpcService>(grpc => grpc.Interceptors.Add<NodeTokenInterceptor>());
        services.AddGrpcHealthChecks(health => health.Services.Map(EngineHealthCheck.LivenessService, check => check.Tags.Contains(EngineHealthCheck.LivenessTag)))
            .AddCheck<EngineHealthCheck>("engines", tags: [EngineHealthCheck.LivenessTag])
            .AddCheck<NodeDrain>("drain");
        services.AddWorkerTelemetry(builder.Configuration, telemetry, prometheus: options.HealthPort > 0);

        var app = builder.Build();
        try
        {
            // Now rather than at start: a settings mistake or a model that cannot load is an ArgumentException naming it.
            app.Services.GetRequiredService<NodeInventory>();
        }
        catch
        {
            ((IDisposable)app).Dispose();
            throw;
        }

        app.MapGrpcService<WorkerGrpcService>();

        // Unauthenticated on purpose: Kubernetes gRPC probes cannot send the node token.
        app.MapGrpcHealthChecksService();
        if (options.HealthPort > 0)
        {
            var healthPort = $"*:{options.HealthPort}";
            app.MapHealthChecks("/readyz").RequireHost(healthPort);
            app.MapHealthChecks("/livez", new HealthCheckOptions { Predicate = check => check.Tags.Contains(EngineHealthCheck.LivenessTag) }).RequireHost(healthPort);
            app.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = _ => false }).RequireHost(healthPort);
            app.MapPrometheusScrapingEndpoint().RequireHost(healthPort);
        }

        return app;
    }

    /// <summary>
    /// The execution stream of a node built by <see cref="Build"/>, for a scheduler in the same process: calls made
    /// through the returned invoker reach the node's engines by reference, without a socket (see
    /// <see cref="InProcessWorkerInvoker"/>). The node still listens and registers over gRPC.
    /// </summary>
    public static CallInvoker InProcessExecution(WebApplication node) =>
        new InProcessWorkerInvoker(ActivatorUtilities.CreateInstance<WorkerGrpcService>(node.Services));

    /// <summary>One endpoint, HTTP/2 only: cleartext gRPC clients cannot negotiate HTTP/2 on a mixed endpoint.
    /// A loopback advertised host binds loopback only (nothing else could reach it anyway); any other binds all interfaces.</summary>
    private static void Listen(KestrelServerOptions kestrel, WorkerNodeOptions options, ServerCertificateReloader? certificate)
    {
        var host = options.AdvertisedHost;
        var loopback = IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip) ? ip
            : host.Equals("localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback
            : null;
        Bind(options.Port, Configure);
        if (options.HealthPort > 0)
        {
            // Cleartext HTTP/1.1 for probes only: gRPC needs HTTP/2, so no WorkerService call can arrive here.
            Bind(options.HealthPort, listen => listen.Protocols = HttpProtocols.Http1);
        }

        void Bind(int port, Action<ListenOptions> configure)
        {
            if (loopback is not null)
            {
                kestrel.Listen(loopback, port, configure);
            }
            else
            {
                kestrel.ListenAnyIP(port, configure);
            }
        }

        void Configure(ListenOptions listen)
        {
            listen.Protocols = HttpProtocols.Http2;
            if (certificate is not null)
            {
                // Asked per handshake, so a renewed certificate is served without a restart.
                listen.UseHttps(new TlsHandshakeCallbackOptions { OnConnection = _ => ValueTask.FromResult(certificate.ServerOptions()) });
            }
        }
    }
}
