using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Orleans.Serialization;
using Scheduler.Abstractions.Jobs;
using Scheduler.Grains;
using Scheduler.Grains.Jobs;
using Scheduler.Silo.Persistence;
using Scheduler.Tests.Faults;
using StackExchange.Redis;
using static Scheduler.Tests.Grains.GrainTestKit;

namespace Scheduler.Tests.Silo.Persistence;

/// <summary>The job journal's contract, held by both stores: the one in the silo's memory and the one in a real
/// redis-server. A job's record takes its ticket from here by job id, so the by-model and by-job views must agree; a
/// job settles by replacing both with its record in one step.</summary>
public sealed class JobJournalTests : IAsyncLifetime
{
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

    private static readonly RedisJobKeys Keys = new("journal-test");

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 6, 8, 0, 0, TimeSpan.Zero));

    // The clock of the journal under test: the fake one in memory, the real one beside a real redis-server's expiry.
    private TimeProvider _clock = TimeProvider.System;

    private async Task<IJobJournal> Journal(string store, PlacementOptions? settings = null)
    {
        var options = Options.Create(settings ?? new PlacementOptions());
        if (store == "memory")
        {
            _clock = _time;
            return new MemoryJobJournal(new MemoryJobIndex(options, _time), options, _time);
        }

        _redis = await RedisServer.StartAsync();
        _connection = await ConnectionMultiplexer.ConnectAsync(_redis.Endpoint);
        _services = new ServiceCollection()
            .AddSerializer(s => s.AddAssembly(typeof(JobTicket).Assembly).AddAssembly(typeof(SettledJob).Assembly))
            .BuildServiceProvider();
        return new RedisJobJournal(
            _connection, _services.GetRequiredService<Serializer<JobTicket>>(), _services.GetRequiredService<Serializer<SettledJob>>(),
            Keys, options, TimeProvider.System);
    }

    private SettledJob Completed(JobTicket ticket) => Stamped(
        SettledJob.Of(ticket, null, new JobOutcome(JobStatus.Completed, "stop", new JobUsage(1, 1, 0, 0, 0, 0), "x", null, [1]), []));

    /// <summary><paramref name="job"/> stamped with its end <paramref name="ago"/>, as JobSettlement stamps a record
    /// (a write retried after a storage outage comes after its end): its retention counts from then.</summary>
    private SettledJob Stamped(SettledJob job, TimeSpan ago = default) => job with { SettledAt = _clock.GetUtcNow() - ago };

    [Theory]
    [InlineData("memory")]
    [InlineData("redis")]
    public async Task Find_GivesAnUnfinishedJobsTicketByItsId_UntilItIsRemoved(string store)
    {
        var journal = await Journal(store);
        var a = Ticket("job-a", "t1", "m1", prompt: 40, maxTokens: 7);
        var b = Ticket("job-b", "t2", "m2");
        await journal.Add(a);
        await journal.Add(b);

        var found = await journal.Find("job-a");
        Assert.Equal(("job-a", "t1", "m1", 40, 7), (found!.JobId, found.TenantId, found.Request.Model, found.Request.PromptTokens, found.Request.MaxTokens));
        Assert.Null(await journal.Find("job-unknown"));
        Assert.Equal(["job-a"], (await journal.Load("m1")).Select(t => t.JobId));

        // Removing a job takes it out of both views at once.
        await journal.Remove("m1", "job-a");
        Assert.Null(await journal.Find("job-a"));
        Assert.Empty(await journal.Load("m1"));
        Assert.Equal("job-b", (await journal.Find("job-b"))!.JobId);
        Assert.Equal(["job-b"], (await journal.Load("m2")).Select(t => t.JobId));
    }

    /// <summary>A placement rebuilt from a large journal reads it a page at a time: one read of 50,000 tickets, deserialised
    /// in the same turn, held a silo thread for seconds.</summary>
    [Theory]
    [InlineData("memory")]
    [InlineData("redis")]
    public async Task LoadPages_HandsOutEveryUnfinishedJobOnce_InPagesOfAtMostThePageSize(string store)
    {
        var journal = await Journal(store);
        const int jobs = (2 * IJobJournal.PageSize) + 500;
        await Task.WhenAll(Enumerable.Range(0, jobs).Select(i => journal.Accept(Ticket($"job-{i}", $"t{i % 7}", "m1"))));
        await journal.Accept(Ticket("job-other-model", "t1", "m2"));

        var pages = new List<IReadOnlyList<JobTicket>>();
        await foreach (var page in journal.LoadPages("m1"))
        {
            pages.Add(page);
        }

        Assert.True(pages.Count >= 3, $"{pages.Count} pages");
        Assert.All(pages, page => Assert.InRange(page.Count, 1, IJobJournal.PageSize));
        var ids = pages.SelectMany(page => page.Select(t => t.JobId)).ToList();
        Assert.Equal(Enumerable.Range(0, jobs).Select(i => $"job-{i}").Order(), ids.Order());
        Assert.Empty(await journal.Load("m3"));
    }

    [Theory]
    [InlineData("memory")]
    [InlineData("redis")]
    public async Task Settle_ReplacesTheUnfinishedEntryByTheRecord_TheFirstEndHolds_AndALateAddDoesNotBringTheJobBack(string store)
    {
        var journal = await Journal(store);
        var ticket = Ticket("job-s", "t1", "m1", prompt: 40, maxTokens: 7) with { HandBacks = 1, LastHandBackError = "upstream answered 502" };
        var other = Ticket("job-o", "t1", "m1");
        await journal.Add(ticket);
        await journal.Add(other);
        Assert.Null(await journal.FindSettled("job-s"));

        var placement = new JobPlacement("r", "a", "H100", "n", 2);
        var completed = new JobOutcome(JobStatus.Completed, "length", new JobUsage(40, 7, 0.1, 1, 2, 3), "abcdefg", null, [1, 2, 3, 4, 5, 6, 7]);
        var trace = new[] { new JobTraceEvent(JobTraceKind.Admitted, DateTimeOffset.UtcNow, "admitted", Placement: placement) };
        var first = Stamped(SettledJob.Of(ticket, placement, completed, trace));
        Assert.Same(first, await journal.Settle(first));

        // Unfinished no more, in both views; the other job is untouched.
        Assert.Null(await journal.Find("job-s"));
        Assert.Equal(["job-o"], (await journal.Load("m1")).Select(t => t.JobId));
        var record = await journal.FindSettled("job-s");
        Assert.Equal((JobStatus.Completed, "abcdefg", placement, 1, "upstream answered 502", "admitted"),
            (record!.Outcome.Status, record.Outcome.Output, record.Placement, record.Ticket.HandBacks, record.Ticket.LastHandBackError, record.Trace.Single().Detail));

        // A second end gets the first back and changes nothing.
        var cancelled = Stamped(SettledJob.Of(ticket, null, completed with { Status = JobStatus.Cancelled, Output = "" }, []));
        var holding = await journal.Settle(cancelled);
        Assert.NotSame(cancelled, holding);
        Assert.Equal((JobStatus.Completed, "abcdefg"), (holding.Outcome.Status, holding.Outcome.Output));
        Assert.Equal(JobStatus.Completed, (await journal.FindSettled("job-s"))!.Outcome.Status);

        // A late write (a hand-back's or a watcher's ticket) must not make a finished job unfinished again: a placement
        // rebuilt from the journal would run it again.
        await journal.Add(ticket);
        Assert.Null(await journal.Find("job-s"));
        Assert.Equal(["job-o"], (await journal.Load("m1")).Select(t => t.JobId));
    }

    [Fact]
    public async Task Settle_InRedis_WritesTheRecordWithTheRetentionAsItsExpiry_AndTheUnfinishedEntriesWithNone()
    {
        var journal = await Journal("redis", new PlacementOptions { JobRetention = TimeSpan.FromHours(1) });
        var done = Ticket("job-done", "t1", "m1");
        var waiting = Ticket("job-waiting", "t1", "m1");
        await journal.Accept(done);
        await journal.Accept(waiting);

        await journal.Settle(Completed(done));

        // Set in the script that writes the record: there is no moment when a record is kept for good.
        var db = _connection!.GetDatabase();
        var ttl = await db.KeyTimeToLiveAsync(Keys.Record("job-done"));
        Assert.InRange(ttl!.Value, TimeSpan.FromMinutes(59), TimeSpan.FromHours(1));
        Assert.Null(await db.KeyTimeToLiveAsync(Keys.JournalJob("job-waiting")));
        Assert.Null(await db.KeyTimeToLiveAsync(Keys.Journal("m1")));
    }

    [Fact]
    public async Task Settle_InRedis_ARecordWrittenLate_ExpiresWhenItsRetentionFromTheJobsEndIsOver()
    {
        // A write retried after a Redis outage: the record is kept for the retention from the job's end, as every
        // reader of a record counts (SettledJob.IsExpired), not from the write.
        var journal = await Journal("redis", new PlacementOptions { JobRetention = TimeSpan.FromHours(1) });
        var late = Ticket("job-late", "t1", "m1");
        var gone = Ticket("job-gone", "t1", "m1");
        await journal.Accept(late);
        await journal.Accept(gone);

        await journal.Settle(Stamped(Completed(late), ago: TimeSpan.FromMinutes(30)));
        await journal.Settle(Stamped(Completed(gone), ago: TimeSpan.FromHours(2)));

        var ttl = await _connection!.GetDatabase().KeyTimeToLiveAsync(Keys.Record("job-late"));
        Assert.InRange(ttl!.Value, TimeSpan.FromMinutes(29), TimeSpan.FromMinutes(30));

        // Past its retention already: gone, and no longer unfinished either.
        await Polling.Until(async () => await journal.FindSettled("job-gone") is null, "the late record past its retention gone", TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(20));
        Assert.Null(await journal.Find("job-gone"));
    }

    [Fact]
    public async Task Settle_InMemory_ARecordWrittenLate_IsGoneWhenItsRetentionFromTheJobsEndIsOver()
    {
        var journal = await Journal("memory", new PlacementOptions { JobRetention = TimeSpan.FromHours(1) });
        var late = Ticket("job-late", "t1", "m1");
        await journal.Accept(late);
        await journal.Settle(Stamped(Completed(late), ago: TimeSpan.FromMinutes(30)));

        _time.Advance(TimeSpan.FromMinutes(29));
        Assert.NotNull(await journal.FindSettled("job-late"));

        // An hour after the job's end, half an hour after the write.
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Null(await journal.FindSettled("job-late"));
    }

    [Fact]
    public async Task Settle_InRedis_RecordPastTheRetention_IsGone()
    {
        var journal = await Journal("redis", new PlacementOptions { JobRetention = TimeSpan.FromMilliseconds(300) });
        var done = Ticket("job-done", "t1", "m1");
        await journal.Accept(done);
        await journal.Settle(Completed(done));
        Assert.NotNull(await journal.FindSettled("job-done"));

        await Polling.Until(async () => await journal.FindSettled("job-done") is null, "the record expired", TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public async Task Settle_InMemory_RecordPastTheRetention_IsGone_AndAnUnfinishedJobStays()
    {
        var journal = await Journal("memory", new PlacementOptions { JobRetention = TimeSpan.FromHours(1) });
        var done = Ticket("job-done", "t1", "m1");
        var waiting = Ticket("job-waiting", "t1", "m1");
        await journal.Accept(done);
        await journal.Accept(waiting);
        await journal.Settle(Completed(done));

        _time.Advance(TimeSpan.FromMinutes(59));
        Assert.NotNull(await journal.FindSettled("job-done"));

        // Read as gone at once, and trimmed by the next end (another job's, an hour later still).
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Null(await journal.FindSettled("job-done"));
        var later = Ticket("job-later", "t1", "m1");
        await journal.Accept(later);
        await journal.Settle(Completed(later));
        Assert.Null(await journal.FindSettled("job-done"));
        Assert.NotNull(await journal.FindSettled("job-later"));

        // Nothing accepted is ever lost: an unfinished job is kept however long it waits.
        _time.Advance(TimeSpan.FromDays(30));
        Assert.Equal("job-waiting", (await journal.Find("job-waiting"))!.JobId);
        Assert.Equal(["job-waiting"], (await journal.Load("m1")).Select(t => t.JobId));
    }

    [Fact]
    public async Task Settle_InMemory_PastTheCountBound_DropsTheOldestRecordsFirst()
    {
        var journal = await Journal("memory", new PlacementOptions { MaxSettledJobsInMemory = 3 });
        var waiting = Ticket("job-waiting", "t1", "m1");
        await journal.Accept(waiting);
        for (var i = 0; i < 5; i++)
        {
            var ticket = Ticket($"job-{i}", "t1", "m1");
            await journal.Accept(ticket);
            await journal.Settle(Completed(ticket));
            _time.Advance(TimeSpan.FromSeconds(1));
        }

        var kept = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            if (await journal.FindSettled($"job-{i}") is { } record)
            {
                kept.Add(record.Ticket.JobId);
            }
        }

        Assert.Equal(["job-2", "job-3", "job-4"], kept);
        Assert.NotNull(await journal.Find("job-waiting"));
    }
}
