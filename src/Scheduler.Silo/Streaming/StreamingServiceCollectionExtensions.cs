namespace Scheduler.Silo.Streaming;

internal static class StreamingServiceCollectionExtensions
{
    /// <summary>Registers this silo's job event hub and the backfill that recovers events a stream missed.</summary>
    public static IServiceCollection AddJobStreaming(this IServiceCollection services)
    {
        services.AddSingleton<JobEventHub>();
        services.AddSingleton<StreamBackfill>();
        return services;
    }
}
