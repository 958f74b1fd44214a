using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Scheduler.Silo.Hosting;

namespace Scheduler.Tests.Silo.Hosting;

public sealed partial class WatchdogStallFilterTests : IDisposable
{
    private readonly CapturedLogs _logs = new();
    private readonly FakeTimeProvider _time = new();
    private readonly ILoggerFactory _factory;

    public WatchdogStallFilterTests() => _factory = LoggerFactory.Create(b => b.AddProvider(_logs).SetMinimumLevel(LogLevel.Trace));

    public void Dispose()
    {
        _factory.Dispose();
        _logs.Dispose();
    }

    [Fact]
    public void Log_AStallLongerThanTheWatchdogHasExisted_IsDropped()
    {
        var (logs, logger, time) = Filter();
        time.Advance(TimeSpan.FromSeconds(5));

        // What Orleans' first check writes when it reads the timestamp its other thread has not set yet: the uptime.
        LogParticipantStall(logger, TimeSpan.FromHours(3) + TimeSpan.FromMinutes(14));

        Assert.Empty(logs.Messages);
    }

    [Fact]
    public void Log_AStallWithinTheWatchdogsLife_IsKept()
    {
        var (logs, logger, time) = Filter();
        time.Advance(TimeSpan.FromMinutes(10));

        LogParticipantStall(logger, TimeSpan.FromSeconds(7));
        LogPlatformStall(logger, TimeSpan.FromSeconds(3), TimeSpan.FromMilliseconds(40));

        Assert.Collection(logs.Messages,
            m => Assert.StartsWith("Participant check thread has not completed for 00:00:07", m, StringComparison.Ordinal),
            m => Assert.StartsWith(".NET Runtime Platform stalled for 00:00:03", m, StringComparison.Ordinal));
    }

    [Fact]
    public void Log_AnotherEventCarryingALongDuration_IsKept()
    {
        var (logs, logger, _) = Filter();

        LogOther(logger, TimeSpan.FromHours(5));

        Assert.Single(logs.Messages);
    }

    /// <summary>The silo gives Orleans' watchdog the filter: should an Orleans upgrade rename the class, this fails and
    /// says the false stall warning may be back.</summary>
    [Fact]
    public async Task Silo_GivesOrleansWatchdogTheFilterAsItsLogger()
    {
        var watchdog = Type.GetType(WatchdogLogging.WatchdogTypeName, throwOnError: false);
        Assert.NotNull(watchdog);
        await using var silo = SchedulerHost.Build(["--Scheduler:GrpcPort=0", "--Scheduler:HttpPort=0", "--Scheduler:OpenAiPort=0"]);

        var logger = silo.Services.GetRequiredService(typeof(ILogger<>).MakeGenericType(watchdog));

        Assert.Equal(typeof(WatchdogStallFilter<>).MakeGenericType(watchdog), logger.GetType());
        Assert.IsType<Logger<WatchdogStallFilterTests>>(silo.Services.GetRequiredService<ILogger<WatchdogStallFilterTests>>());
    }

    private (CapturedLogs Logs, ILogger Logger, FakeTimeProvider Time) Filter() =>
        (_logs, new WatchdogStallFilter<WatchdogStallFilterTests>(_factory, _time), _time);

    // Orleans' own two messages, with its event id and field names (Orleans.Runtime.Watchdog).
    [LoggerMessage(EventId = WatchdogStallFilter<object>.StallEventId, Level = LogLevel.Warning,
        Message = "Participant check thread has not completed for {TimeSinceLastTick}, potentially indicating lock contention or deadlock, CPU starvation, or another execution anomaly.")]
    private static partial void LogParticipantStall(ILogger logger, TimeSpan timeSinceLastTick);

    [LoggerMessage(EventId = WatchdogStallFilter<object>.StallEventId, Level = LogLevel.Warning,
        Message = ".NET Runtime Platform stalled for {TimeSinceLastTick}. Total GC Pause duration during that period: {PauseDurationSinceLastTick}.")]
    private static partial void LogPlatformStall(ILogger logger, TimeSpan timeSinceLastTick, TimeSpan pauseDurationSinceLastTick);

    [LoggerMessage(EventId = 100151, Level = LogLevel.Warning, Message = "Something else took {TimeSinceLastTick}")]
    private static partial void LogOther(ILogger logger, TimeSpan timeSinceLastTick);
}
