using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Scheduler.Grains;
using Scheduler.Silo.Hosting;

namespace Scheduler.Tests.Silo.Hosting;

/// <summary>The retention's former name, Scheduler:Scheduling:JobListRetention, keeps a deployment that set it on its
/// retention across the upgrade, with a warning; the new name wins where both are set.</summary>
public sealed class JobListRetentionAliasTests
{
    private static async Task<(TimeSpan Retention, IReadOnlyCollection<string> Logs)> Built(params string[] settings)
    {
        await using var silo = SchedulerHost.Build(["--Scheduler:HttpPort=0", "--Scheduler:OpenAiPort=0", "--Scheduler:GrpcPort=0", .. settings]);
        var retention = silo.Services.GetRequiredService<IOptions<PlacementOptions>>().Value.JobRetention;

        using var logs = new CapturedLogs();
        using var loggers = LoggerFactory.Create(b => b.AddProvider(logs));
        var alias = new JobListRetentionAlias(silo.Services.GetRequiredService<IConfiguration>(), loggers.CreateLogger<JobListRetentionAlias>());
        await alias.StartAsync(CancellationToken.None);
        return (retention, logs.Messages);
    }

    [Fact]
    public async Task OnlyTheOldKeySet_IsTheRetention_WithAWarningToRenameIt()
    {
        var (retention, logs) = await Built("--Scheduler:Scheduling:JobListRetention=2.00:00:00", "--Scheduler:Scheduling:IdempotencyKeyLifetime=1.00:00:00");

        Assert.Equal(TimeSpan.FromDays(2), retention);
        Assert.Equal(
            ["Scheduler:Scheduling:JobListRetention is deprecated: read as Scheduler:Scheduling:JobRetention, which now also bounds how long a finished job's record is kept; rename it"],
            logs);
    }

    [Fact]
    public async Task BothKeysSet_TheNewOneHolds_AndTheOldOneIsWarnedOfAsIgnored()
    {
        var (retention, logs) = await Built("--Scheduler:Scheduling:JobListRetention=2.00:00:00", "--Scheduler:Scheduling:JobRetention=3.00:00:00");

        Assert.Equal(TimeSpan.FromDays(3), retention);
        Assert.Equal(["Scheduler:Scheduling:JobListRetention is deprecated and ignored: Scheduler:Scheduling:JobRetention is set; remove it"], logs);
    }

    [Fact]
    public async Task OnlyTheNewKeySet_IsTheRetention_WithoutAWarning()
    {
        var (retention, logs) = await Built("--Scheduler:Scheduling:JobRetention=3.00:00:00");

        Assert.Equal(TimeSpan.FromDays(3), retention);
        Assert.Empty(logs);
    }
}
