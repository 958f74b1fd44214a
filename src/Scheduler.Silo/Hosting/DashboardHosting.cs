using Orleans.Dashboard;

namespace Scheduler.Silo.Hosting;

/// <summary>The Orleans dashboard on a silo, with its per-method grain profiling only when asked for.</summary>
internal static class DashboardHosting
{
    /// <summary>The dashboard's path on the silo's HTTP port.</summary>
    public const string RoutePrefix = "/dashboard";

    public static ISiloBuilder AddSchedulerDashboard(this ISiloBuilder silo, DashboardOptions options)
    {
        silo.AddDashboard();
        if (!options.GrainMethodProfiling)
        {
            // The dashboard registers its profiler as an incoming grain-call filter and offers no switch for it; the
            // filter is its assembly's only registration of that service type.
            var dashboard = typeof(Orleans.Dashboard.DashboardOptions).Assembly;
            var services = silo.Services;
            for (var i = services.Count - 1; i >= 0; i--)
            {
                if (services[i].ServiceType == typeof(IIncomingGrainCallFilter) && services[i].ImplementationType?.Assembly == dashboard)
                {
                    services.RemoveAt(i);
                }
            }
        }

        return silo;
    }

    public static WebApplication MapSchedulerDashboard(this WebApplication app)
    {
        app.MapOrleansDashboard(routePrefix: RoutePrefix);
        return app;
    }
}
