using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Serialization;
using Microsoft.Extensions.Time.Testing;
using Scheduler.Abstractions.Jobs;
using Scheduler.Grains;
using Scheduler.Grains.Jobs;
using Scheduler.Policies;
using Scheduler.Silo.Persistence;
using Scheduler.Tests.Faults;
using Scheduler.Tests.Grains;
using StackExchange.Redis;

namespace Scheduler.Tests.Silo.Persistence;

/// <summary>The job index's contract, held by both stores: the one in memory and the one in a real redis-server. The
/// journal writes it as it accepts and settles jobs, so that is how these tests write it.</summary>
public sealed class JobIndexTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 2, 4, 0, 0, TimeSpan.Zero);

    private readonly FakeTimeProvider _time = new(T0.AddMinutes(1));
    private readonly IOptions<PlacementOptions> _options = Options.Create(new PlacementOptions { JobRetention = TimeSpan.FromDays(1) });
    private RedisServer? _redis;
    private ConnectionMultiplexer? _connection;
    private ServiceProvider? _services;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        _connection?.Dispose();
        _services?.Dispose();
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }
    }

    private async Task<(IJobJournal Journal, IJobIndex Index)> Store(string store)
    {
        if (store == "memory")
        {
            var index = new MemoryJobIndex(_options, _time);
            return (new MemoryJobJournal(index, _options, _time), index);
        }

        _redis = await RedisServer.StartAsync();
        _connection = await ConnectionMultiplexer.ConnectAsync(_redis.Endpoint);
        _services = new ServiceCollection()
            .AddSerializer(s => s.AddAssembly(typeof(JobTicket).Assembly).AddAssembly(typeof(SettledJob).Assembly))
            .BuildServiceProvider();
        var keys = new RedisJobKeys("index-test");
        return (new RedisJobJournal(_connection, _services.GetRequiredService<Serializer<JobTicket>>(), _services.GetRequiredService<Serializer<SettledJob>>(), keys, _options, _time),
            new RedisJobIndex(_connection, keys));
    }

    private static JobTicket Ticket(string jobId, string tenant, int secondsAfterT0) =>
        GrainTestKit.Ticket(jobId, tenant, "m") with { SubmittedAt = T0.AddSeconds(secondsAfterT0) };

    // Stamped as JobSettlement stamps a record: its retention counts from its end.
    private SettledJob Ended(JobTicket ticket, JobStatus status) =>
        SettledJob.Of(ticket, null, new JobOutcome(status, "stop", new JobUsage(1, 1, 0, 0, 0, 0), "x", null, [1]), []) with { SettledAt = _time.GetUtcNow() };

    [Theory]
    [InlineData("memory")]
    [InlineData("redis")]
    public async Task ReadNewestFirst_PagedByCursor_GivesEveryJobOnce_NewestFirst_TiesByIdDescending(string store)
    {
        var (journal, index) = await Store(store);
        foreach (var t in new[] { Ticket("a", "t1", 1), Ticket("b", "t2", 2), Ticket("c", "t1", 3), Ticket("d", "t1", 3), Ticket("e", "t2", 4) })
        {
            await journal.Accept(t);
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
    public async Task ReadNewestFirst_PagedByCursor_IdsNotInSubmissionOrder_GivesEveryJobOnce(string store)
    {
        // Real job ids are random: an older job's id sorts after a newer one's about half the time. The Redis index
        // compared every id of a page after the first with the cursor's, not only the ties at its millisecond, and so
        // skipped those jobs: a ListJobs paged by 50 over 404 jobs listed 209.
        var (journal, index) = await Store(store);
        foreach (var t in new[] { Ticket("y", "t1", 1), Ticket("b", "t1", 2), Ticket("z", "t1", 3), Ticket("m", "t1", 3), Ticket("a", "t1", 4), Ticket("x", "t1", 5) })
        {
            await journal.Accept(t);
        }

        foreach (var pageSize in new[] { 1, 2, 4 })
        {
            var seen = new List<string>();
            JobIndexCursor? cursor = null;
            for (var page = 0; page < 10; page++)
            {
                var entries = await index.ReadNewestFirst("t1", cursor, null, null, pageSize);
                if (entries.Count == 0)
                {
                    break;
                }

                seen.AddRange(entries.Select(e => e.JobId));
                cursor = entries[^1].Cursor;
            }

            Assert.Equal(["x", "a", "z", "m", "b", "y"], seen);
        }
    }

    [Theory]
    [InlineData("memory")]
    [InlineData("redis")]
    public async Task ReadNewestFirst_ByTenantAndTimeRange_AndSettledStatus(string store)
    {
        var (journal, index) = await Store(store);
        var c = Ticket("c", "t1", 3);
        foreach (var t in new[] { Ticket("a", "t1", 1), Ticket("b", "t2", 2), c, Ticket("d", "t1", 5) })
        {
            await journal.Accept(t);
        }

        // The first end holds in the index as in the record; a late write of the ticket does not make it queued again.
        await journal.Settle(Ended(c, JobStatus.Completed));
        await journal.Settle(Ended(c, JobStatus.Cancelled));
        await journal.Accept(c);

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
        var (journal, index) = await Store(store);
        await journal.Accept(Ticket("old", "t1", 0));
        _time.Advance(TimeSpan.FromDays(2));
        await journal.Accept(Ticket("new", "t1", (int)TimeSpan.FromDays(2).TotalSeconds));

        Assert.Equal(["new"], (await index.ReadNewestFirst("t1", null, null, null, 10)).Select(e => e.JobId));
        Assert.Equal(["new"], (await index.ReadNewestFirst(null, null, null, null, 10)).Select(e => e.JobId));
    }

    [Fact]
    public async Task Add_InMemory_PastTheCountBound_DropsTheOldestEntriesFirst()
    {
        var index = new MemoryJobIndex(Options.Create(new PlacementOptions { MaxSettledJobsInMemory = 3 }), _time);
        var journal = new MemoryJobJournal(index, _options, _time);
        foreach (var t in new[] { Ticket("a", "t1", 1), Ticket("b", "t2", 2), Ticket("c", "t1", 3), Ticket("d", "t1", 4), Ticket("e", "t2", 5) })
        {
            await journal.Accept(t);
        }

        Assert.Equal(["e", "d", "c"], (await index.ReadNewestFirst(null, null, null, null, 10)).Select(e => e.JobId));
        Assert.Equal(["d", "c"], (await index.ReadNewestFirst("t1", null, null, null, 10)).Select(e => e.JobId));
        Assert.Equal(["e"], (await index.ReadNewestFirst("t2", null, null, null, 10)).Select(e => e.JobId));
    }
}
