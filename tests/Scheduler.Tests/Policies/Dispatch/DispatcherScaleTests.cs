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
    // Eight replicas whose every slot runs a critical job: nothing fits, and no queued standard job may stop one.
    private static Dispatcher FullOfCriticalJobs()
    {
        var dispatcher = Dispatcher.Create("cost-aware", "weighted-fair", "continuous", maxPreemptions: 2);
        for (var r = 0; r < 8; r++)
        {
            var replica = Replica($"h{r}", AcceleratorProfiles.H100, maxSequences: 32, kvCapacityTokens: 32 * 700);
            dispatcher.Replicas[replica.ReplicaId] = replica;
            for (var i = 0; i < 32; i++)
            {
                var job = Job($"run-{r}-{i}", $"running-{i % 4}", priority: JobPriority.Critical);
                replica.Admit(job);
                replica.PrefillDone(job.JobId);
            }
        }

        return dispatcher;
    }

    // Rounds that admit nothing, after a first one (which warms the code up): the CPU time they take, not the wall
    // clock, which a loaded machine stretches (280 ms read for 50 rounds at CI load 30).
    private static TimeSpan TimeRounds(Dispatcher dispatcher, int count)
    {
        Assert.Empty(dispatcher.AdmitWhatFits());
        return ThreadCpuTime.Of(() =>
        {
            for (var i = 0; i < count; i++)
            {
                Assert.Empty(dispatcher.AdmitWhatFits());
            }
        });
    }

    [Fact]
    public void AdmitWhatFits_NothingFits_FiveThousandTenantsQueued_TakesMilliseconds()
    {
        // 5,000 tenants with a job each, as a large deployment's many small clients behind a busy fleet. Each round
        // offers the queued jobs for preemption: asking of each whether it is next in line scanned every tenant (a
        // round cost 5,000 × 5,000 steps: about 0.5 s here, 2 s at 10,000 tenants — at every submission: the standalone
        // took 15 submissions a second with 2,000 tenants queued), and as they all start level, each of them was next
        // in line and searched the 256 running sequences for a victim. Now it is a step a tenant and a bounded search.
        var dispatcher = FullOfCriticalJobs();
        for (var t = 0; t < 5_000; t++)
        {
            dispatcher.Queue.Enqueue(Job($"j-{t}", $"tenant-{t}", ttftObjectiveMs: 60_000));
        }

        var rounds = TimeRounds(dispatcher, 5);
        Assert.Empty(dispatcher.Preemptions);
        Assert.Equal(5_000, dispatcher.Queue.Count);
        Assert.True(rounds < TimeSpan.FromMilliseconds(250), $"5 rounds over 5,000 queued tenants took {rounds.TotalMilliseconds:F0} ms of CPU");
    }

    [Fact]
    public void AdmitWhatFits_NothingFits_ADeepBacklogOfFewTenants_TakesMilliseconds()
    {
        // 100,000 jobs of 10 tenants behind a full fleet (a flood, or a batch run against a slow replica). A round asked
        // every queued job whether it fits and whether it may make room by preemption: two walks of the whole backlog,
        // at every submission, which slowed the submissions as the queue grew. With no free slot anywhere the first
        // ask is moot, and only each tenant's first job stands for its class in the second.
        var dispatcher = FullOfCriticalJobs();
        for (var i = 0; i < 100_000; i++)
        {
            dispatcher.Queue.Enqueue(Job($"j-{i}", $"tenant-{i % 10}", ttftObjectiveMs: 60_000));
        }

        var rounds = TimeRounds(dispatcher, 50);
        Assert.Equal(100_000, dispatcher.Queue.Count);
        Assert.True(rounds < TimeSpan.FromMilliseconds(250), $"50 rounds over 100,000 queued jobs took {rounds.TotalMilliseconds:F0} ms of CPU");
    }

    [Theory]
    [InlineData("weighted-fair")]
    [InlineData("fifo")]
    public void AdmitWhatFits_FreeSlotsButNoKvRoom_ADeepBacklog_TakesMilliseconds(string fairness)
    {
        // Long prompts fill a replica's KV cache long before its slots: eight replicas run 16 of their 32 sequences and
        // have no KV room for another, behind 100,000 queued jobs of 10 tenants (a flood of long prompts). Every round —
        // at every submission and every engine step with news — asked each queued job whether it fits: a walk of the
        // whole backlog, though none could while the largest free KV is below the smallest job's need.
        var dispatcher = Dispatcher.Create("cost-aware", fairness, "continuous");
        for (var r = 0; r < 8; r++)
        {
            var replica = Replica($"h{r}", AcceleratorProfiles.H100, maxSequences: 32, kvCapacityTokens: 16 * 700);
            dispatcher.Replicas[replica.ReplicaId] = replica;
            for (var i = 0; i < 16; i++)
            {
                var job = Job($"run-{r}-{i}", $"running-{i % 4}");
                replica.Admit(job);
                replica.PrefillDone(job.JobId);
            }
        }

        for (var i = 0; i < 100_000; i++)
        {
            dispatcher.Queue.Enqueue(Job($"j-{i}", $"tenant-{i % 10}", ttftObjectiveMs: 60_000));
        }

        var rounds = TimeRounds(dispatcher, 50);
        Assert.Equal(100_000, dispatcher.Queue.Count);
        Assert.Equal(RoundStopReason.NothingFits, dispatcher.LastStop.Reason);
        Assert.True(rounds < TimeSpan.FromMilliseconds(25), $"50 rounds over 100,000 queued jobs took {rounds.TotalMilliseconds:F0} ms of CPU");
    }
}
