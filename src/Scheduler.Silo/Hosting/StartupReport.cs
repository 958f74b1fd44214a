using Microsoft.Extensions.Options;
using Scheduler.Grains;
using Scheduler.Silo.Models;
using StackExchange.Redis;

namespace Scheduler.Silo.Hosting;

/// <summary>Logs, once the silo starts, what it is: where its state lives, which cluster it joins, the models it serves
/// and the policies it schedules by. Without it a silo started with half a cluster's settings looked like any other in
/// its log, and an operator could not tell from the log which mode a silo ran in.</summary>
internal sealed partial class StartupReport(
    IConfiguration configuration, ModelCatalog models, IOptions<PlacementOptions> placement, ILogger<StartupReport> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!logger.IsEnabled(LogLevel.Information))
        {
            return Task.CompletedTask;
        }

        var clustering = Settings.Read<ClusteringOptions>(configuration.GetSection(SchedulerHost.Section));
        var state = clustering.Clustering == ClusterHosting.Redis
            ? $"Redis at {ConfigurationOptions.Parse(clustering.Redis).ToString(includePassword: false)} (cluster id '{clustering.ClusterId}', service id '{clustering.ServiceId}')"
            : "memory, a cluster of this silo alone";
        var p = placement.Value;
        var served = string.Join(", ", models.All.Select(m => m.Name));
        LogStarted(logger, clustering.Clustering, state, served, p.PlacementPolicy, p.FairnessPolicy, p.BatchingPolicy);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Scheduler silo: {Clustering} clustering, state in {State}; models {Models}; placement {Placement}, fairness {Fairness}, batching {Batching}")]
    private static partial void LogStarted(ILogger logger, string clustering, string state, string models, string placement, string fairness, string batching);
}
