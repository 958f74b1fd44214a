using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Scheduler.Grains;
using Scheduler.Silo.Hosting;

namespace Scheduler.Tests.Silo.Hosting;

/// <summary>The retention's former name, Scheduler:Scheduling:JobListRetention, keeps a deployment that set it on its
/// retention across the upgrade, with a warning; the new name wins where both are set. An idempotency key's default
/// lifetime follows a shorter retention; one set explicitly is the operator's (and refused if longer).</summary>
public sealed class JobRetentionSettingsTests
{
    private static async Task<(TimeSpan Retention, IReadOnlyCollection<string> Logs)> Built(params string[] settings)
    {
        var (options, logs) = await Read(settings);
        return (options.JobRetention, logs);
    }

    private static async Task<(PlacementOptions Options, IReadOnlyCollection<string> Logs)> Read(params string[] settings)
    {
        await using var silo = SchedulerHost.Build(["--Scheduler:HttpPort=0", "--Scheduler:OpenAiPort=0", "--Scheduler:GrpcPort=0", .. settings]);
        var options = silo.Services.GetRequiredService<IOptions<PlacementOptions>>().Value;

        using var logs = new CapturedLogs();
        using var loggers = LoggerFactory.Create(b => b.AddProvider(logs));
        var reporter = new JobRetentionSettings(silo.Services.GetRequiredService<IConfiguration>(), loggers.CreateLogger<JobRetentionSettings>());
        await reporter.StartAsync(CancellationToken.None);
        return (options, logs.Messages);
    }

    [Fact]
    public async Task OnlyTheOldKeySet_IsTheRetention_WithAWarningToRenameIt()
    {
        var (retention, logs) = await Built("--Scheduler:Scheduling:JobListRetention=2.00:00:00");

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

    [Fact]
    public async Task ARetentionShorterThanTheKeysDefaultLifetime_ShortensTheLifetime_UnlessItIsSet()
    {
        Assert.Equal(TimeSpan.FromHours(1), (await Read("--Scheduler:Scheduling:JobRetention=01:00:00")).Options.IdempotencyKeyLifetime);
        Assert.Equal(TimeSpan.FromHours(24), (await Read("--Scheduler:Scheduling:JobRetention=2.00:00:00")).Options.IdempotencyKeyLifetime);
        Assert.Equal(
            TimeSpan.FromMinutes(30),
            (await Read("--Scheduler:Scheduling:JobRetention=01:00:00", "--Scheduler:Scheduling:IdempotencyKeyLifetime=00:30:00")).Options.IdempotencyKeyLifetime);
    }
}
