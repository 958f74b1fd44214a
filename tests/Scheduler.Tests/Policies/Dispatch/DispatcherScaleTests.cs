using System.Diagnostics;
using Scheduler.Policies;
using Scheduler.Policies.Dispatch;
using Scheduler.Policies.Profiles;
using static Scheduler.Tests.Policies.PolicyFixtures;

namespace Scheduler.Tests.Policies.Dispatch;

/// <summary>What an admission round costs with many tenants and many queued jobs: a round runs at every submission and
/// every engine step with news, in the placement's one turn at a time, so its cost must not grow with the product of
/// tenants and queued jobs.</summary>
public sealed class DispatcherScaleTests
{
    // A replica whose every slot runs a critical job: nothing fits, and no queued standard job may stop one.
    private static Dispatcher FullOfCriticalJobs()
    {
        var dispatcher = Dispatcher.Create("cost-aware", "weighted-fair", "continuous", maxPreemptions: 2);
        var replica = Replica("h", AcceleratorProfiles.H100, maxSequences: 4, kvCapacityTokens: 2_800);
        dispatcher.Replicas["h"] = replica;
        for (var i = 0; i < 4; i++)
        {
            var job = Job($"run-{i}", "running", priority: JobPriority.Critical);
            replica.Admit(job);
            replica.PrefillDone(job.JobId);
        }

        return dispatcher;
    }

    [Fact]
    public void AdmitWhatFits_NothingFits_FiveThousandTenantsQueued_TakesMilliseconds()
    {
        // 5,000 tenants with a job each, as a large deployment's many small clients behind a busy fleet. Each round
        // offers every queued job for preemption; asking of each whether it is next in line scanned every tenant, so a
        // round cost 5,000 × 5,000 steps (about 0.5 s here, 2 s at 10,000 tenants — at every submission: the standalone
        // took 15 submissions a second with 2,000 tenants queued). Now it is a step a job.
        var dispatcher = FullOfCriticalJobs();
        for (var t = 0; t < 5_000; t++)
        {
            dispatcher.Queue.Enqueue(Job($"j-{t}", $"tenant-{t}", ttftObjectiveMs: 60_000));
        }

        Assert.Empty(dispatcher.AdmitWhatFits());
        var rounds = Stopwatch.StartNew();
        for (var i = 0; i < 5; i++)
        {
            Assert.Empty(dispatcher.AdmitWhatFits());
        }

        rounds.Stop();
        Assert.Empty(dispatcher.Preemptions);
        Assert.Equal(5_000, dispatcher.Queue.Count);
        Assert.True(rounds.Elapsed < TimeSpan.FromMilliseconds(250), $"5 rounds over 5,000 queued tenants took {rounds.Elapsed.TotalMilliseconds:F0} ms");
    }
}
