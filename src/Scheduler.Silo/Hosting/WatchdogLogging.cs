namespace Scheduler.Silo.Hosting;

/// <summary>Gives Orleans' (internal) silo watchdog a <see cref="WatchdogStallFilter{T}"/> as its logger.</summary>
internal static class WatchdogLogging
{
    /// <summary>Orleans' watchdog class, by name: it is internal. Should an Orleans upgrade rename it, nothing is filtered
    /// (and <c>WatchdogStallFilterTests</c> says so).</summary>
    public const string WatchdogTypeName = "Orleans.Runtime.Watchdog, Orleans.Runtime";

    /// <summary>Registers the filter as the watchdog's <c>ILogger&lt;Watchdog&gt;</c>: a closed registration wins over the
    /// logging's open <c>ILogger&lt;&gt;</c> one, so no other logger changes.</summary>
    public static IServiceCollection AddWatchdogStallFilter(this IServiceCollection services)
    {
        if (Type.GetType(WatchdogTypeName, throwOnError: false) is { } watchdog)
        {
            services.AddSingleton(typeof(ILogger<>).MakeGenericType(watchdog), typeof(WatchdogStallFilter<>).MakeGenericType(watchdog));
        }

        return services;
    }
}
