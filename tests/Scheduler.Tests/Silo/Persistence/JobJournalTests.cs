using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Scheduler.Abstractions.Jobs;
using Scheduler.Grains.Jobs;
using Scheduler.Silo.Persistence;
using Scheduler.Tests.Faults;
using StackExchange.Redis;
using static Scheduler.Tests.Grains.GrainTestKit;

namespace Scheduler.Tests.Silo.Persistence;

/// <summary>The job journal's contract, held by both stores: the one in the silo's memory and the one in a real
/// redis-server. A job's record takes its ticket from here by job id, so the by-model and by-job views must agree.</summary>
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

    private async Task<IJobJournal> Journal(string store)
    {
        if (store == "memory")
        {
            return new MemoryJobJournal();
        }

        _redis = await RedisServer.StartAsync();
        _connection = await ConnectionMultiplexer.ConnectAsync(_redis.Endpoint);
        _services = new ServiceCollection().AddSerializer(s => s.AddAssembly(typeof(JobTicket).Assembly)).BuildServiceProvider();
        return new RedisJobJournal(_connection, _services.GetRequiredService<Serializer<JobTicket>>(), "journal-test");
    }

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
}
