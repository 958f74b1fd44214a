using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans.Serialization;
using Scheduler.Abstractions.Jobs;
using Scheduler.Grains;
using Scheduler.Grains.Jobs;
using Scheduler.Grains.Placement;
using Scheduler.Silo.Persistence;
using Scheduler.Tests.Faults;
using StackExchange.Redis;
using Xunit.Abstractions;
using static Scheduler.Tests.Grains.GrainTestKit;

namespace Scheduler.Tests.Silo.Persistence;

/// <summary>
/// A placement rebuilt from a large journal in a real redis-server, as <see cref="PlacementGrain"/>'s activation does it:
/// pages read and deserialised, the plan, the jobs restored a page at a time. Each phase's time goes to the test's
/// output (docs/scaling.md, "The rebuild and a submission's own bookkeeping", took its figures from it).
/// </summary>
public sealed class LargeJournalRebuildTests(ITestOutputHelper output)
{
    [Fact]
    public async Task FiftyThousandJournaledJobsOfTwoThousandTenants_AreQueuedAgainOnce_InArrivalOrderPerTenant()
    {
        const int jobs = 50_000, tenants = 2_000;
        await using var redis = await RedisServer.StartAsync();
        using var connection = await ConnectionMultiplexer.ConnectAsync(redis.Endpoint);
        using var services = new ServiceCollection()
            .AddSerializer(s => s.AddAssembly(typeof(JobTicket).Assembly).AddAssembly(typeof(SettledJob).Assembly))
            .BuildServiceProvider();
        var options = new PlacementOptions();
        var journal = new RedisJobJournal(connection, services.GetRequiredService<Serializer<JobTicket>>(), services.GetRequiredService<Serializer<SettledJob>>(),
            new RedisJobKeys("rebuild-test"), Options.Create(options), TimeProvider.System);
        var start = DateTimeOffset.UtcNow;
        for (var chunk = 0; chunk < jobs / 1_000; chunk++)
        {
            await Task.WhenAll(Enumerable.Range(chunk * 1_000, 1_000).Select(i =>
                journal.Accept(Ticket($"job-{i:D6}", $"tenant-{i % tenants}", "m") with { SubmittedAt = start.AddTicks(i) })));
        }

        var watch = Stopwatch.StartNew();
        var tickets = new Dictionary<string, JobTicket>(StringComparer.Ordinal);
        var pages = 0;
        await foreach (var page in journal.LoadPages("m"))
        {
            pages++;
            foreach (var ticket in page)
            {
                tickets[ticket.JobId] = ticket;
            }
        }

        var read = watch.Elapsed;
        watch.Restart();
        var persisted = new PlacementState();
        persisted.Replicas["r"] = Replica("r", "m", "n", maxSequences: 128, kvCapacityTokens: 1_000_000);
        var plan = RecoveryPlanner.Plan(persisted, [("n", null)], tickets.Values);
        var planned = watch.Elapsed;
        watch.Restart();
        var placement = new ModelPlacement("m", persisted, options, TimeProvider.System, NullLogger.Instance);
        placement.RestoreReplicas(plan.LiveReplicas);
        foreach (var page in plan.Jobs.Chunk(IJobJournal.PageSize))
        {
            placement.RestoreJobs(page);
        }

        var round = placement.EndRecovery();
        var restored = watch.Elapsed;
        output.WriteLine($"{jobs} jobs of {tenants} tenants: read in {pages} pages {read.TotalMilliseconds:0} ms, planned {planned.TotalMilliseconds:0} ms, restored {restored.TotalMilliseconds:0} ms");

        // Every job once, all queued (the replica's node has no live stream), each tenant's in arrival order.
        Assert.InRange(pages, jobs / IJobJournal.PageSize, (jobs / IJobJournal.PageSize) + 1);
        Assert.Equal(jobs, tickets.Count);
        Assert.Empty(round.Batches);
        var snapshot = placement.Snapshot();
        Assert.Equal(jobs, snapshot.QueuedJobs);
        Assert.All(snapshot.QueuedByTenant.Values, count => Assert.Equal(jobs / tenants, count));
        foreach (var tenant in new[] { 0, 1, tenants - 1 })
        {
            var positions = Enumerable.Range(0, jobs / tenants)
                .Select(k => placement.Locate($"job-{tenant + (k * tenants):D6}")!.QueuePosition)
                .ToList();
            Assert.Equal(positions.Order(), positions);
            Assert.Equal(positions.Count, positions.Distinct().Count());
        }
    }
}
