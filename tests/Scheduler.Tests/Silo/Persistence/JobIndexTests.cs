using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Scheduler.Abstractions.Jobs;
using Scheduler.Grains;
using Scheduler.Grains.Jobs;
using Scheduler.Policies;
using Scheduler.Silo.Persistence;
using Scheduler.Tests.Faults;
using StackExchange.Redis;

namespace Scheduler.Tests.Silo.Persistence;

/// <summary>The job index's contract, held by both stores: the one in memory and the one in a real redis-server.</summary>
public sealed class JobIndexTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 2, 4, 0, 0, TimeSpan.Zero);

    private readonly FakeTimeProvider _time = new(T0.AddMinutes(1));
    private readonly IOptions<PlacementOptions> _options = Options.Create(new PlacementOptions { JobListRetention = TimeSpan.FromDays(1) });
    private RedisServer? _redis;
    private ConnectionMultiplexer? _connection;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        _connection?.Dispose();
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }
    }

    private async Task<IJobIndex> Index(string store)
    {
        if (store == "memory")
        {
            return new MemoryJobIndex(_options, _time);
        }

        _redis = await RedisServer.StartAsync();
        _connection = await ConnectionMultiplexer.ConnectAsync(_redis.Endpoint);
        return new RedisJobIndex(_connection, "index-test", _options, _time);
    }

    private static JobIndexEntry Entry(string jobId, string tenant, int secondsAfterT0, string model = "m", JobStatus status = JobStatus.Queued) =>
        new(jobId, tenant, model, JobPriority.Standard, T0.AddSeconds(secondsAfterT0), status);

    [Theory]
    [InlineData("memory")]
    [InlineData("redis")]
    public async Task ReadNewestFirst_PagedByCursor_GivesEveryJobOnce_NewestFirst_TiesByIdDescending(string store)
    {
        var index = await Index(store);
        foreach (var e in new[] { Entry("a", "t1", 1), Entry("b", "t2", 2), Entry("c", "t1", 3), Entry("d", "t1", 3), Entry("e", "t2", 4) })
        {
            await index.Add(e);
        }

        var seen = new List<string>();
        JobIndexCursor? cursor = null;
        for (var page = 0; page < 10; page++)
        {
            var entries = await index.ReadNewestFirst(null, cursor, null, null, 2);
            if (entries.Count == 0)
            {
                break;
            }

            seen.AddRange(entries.Select(e => e.JobId));
            cursor = entries[^1].Cursor;
        }

        Assert.Equal(["e", "d", "c", "b", "a"], seen);
    }

    [Theory]
    [InlineData("memory")]
    [InlineData("redis")]
    public async Task ReadNewestFirst_ByTenantAndTimeRange_AndSettledStatus(string store)
    {
        var index = await Index(store);
        foreach (var e in new[] { Entry("a", "t1", 1), Entry("b", "t2", 2), Entry("c", "t1", 3), Entry("d", "t1", 5) })
        {
            await index.Add(e);
        }

        await index.Settle(Entry("c", "t1", 3, status: JobStatus.Completed));

        var t1 = await index.ReadNewestFirst("t1", null, T0.AddSeconds(1), T0.AddSeconds(3), 10);

        Assert.Equal(["c", "a"], t1.Select(e => e.JobId));
        Assert.Equal(JobStatus.Completed, t1[0].Status);
        Assert.Equal("m", t1[0].Model);
        Assert.Equal(T0.AddSeconds(3), t1[0].SubmittedAt);
        Assert.Empty(await index.ReadNewestFirst("t3", null, null, null, 10));
        Assert.Empty(await index.ReadNewestFirst("t1", new JobIndexCursor(T0.AddSeconds(-10).ToUnixTimeMilliseconds(), "z"), null, null, 10));
    }

    [Theory]
    [InlineData("memory")]
    [InlineData("redis")]
    public async Task Add_JobsPastTheRetention_AreTrimmed(string store)
    {
        var index = await Index(store);
        await index.Add(Entry("old", "t1", 0));
        _time.Advance(TimeSpan.FromDays(2));
        await index.Add(Entry("new", "t1", (int)TimeSpan.FromDays(2).TotalSeconds));

        Assert.Equal(["new"], (await index.ReadNewestFirst("t1", null, null, null, 10)).Select(e => e.JobId));
        Assert.Equal(["new"], (await index.ReadNewestFirst(null, null, null, null, 10)).Select(e => e.JobId));
    }
}
