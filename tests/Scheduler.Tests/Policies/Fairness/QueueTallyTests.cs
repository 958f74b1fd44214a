using Scheduler.Policies;
using Scheduler.Policies.Fairness;
using static Scheduler.Tests.Policies.PolicyFixtures;

namespace Scheduler.Tests.Policies.Fairness;

/// <summary>A queue's tally (what the fleet's gauges and <c>ListModels</c> read) against the jobs the queue holds, however
/// they came and went.</summary>
public sealed class QueueTallyTests
{
    [Theory]
    [InlineData("weighted-fair")]
    [InlineData("fifo")]
    public void Tally_UnderRandomEnqueuesRemovesAndPicks_IsWhatTheQueueHolds(string fairness)
    {
        var queue = SchedulingPolicies.CreateFairQueue(fairness);
        var held = new Dictionary<string, JobDemand>(StringComparer.Ordinal);
        var rng = new Random(11);
        for (var step = 0; step < 3_000; step++)
        {
            switch (rng.Next(5))
            {
                case 0 or 1:
                    var job = Job($"j{rng.Next(400)}", $"t{rng.Next(6)}", prompt: rng.Next(1, 2_000), maxTokens: rng.Next(0, 500), priority: (JobPriority)rng.Next(1, 4));
                    if (rng.Next(4) == 0)
                    {
                        queue.EnqueueFront(job);
                    }
                    else
                    {
                        queue.Enqueue(job);
                    }

                    // Enqueuing an id again moves it: the queue holds the new one.
                    held[job.JobId] = job;
                    break;
                case 2:
                    var id = $"j{rng.Next(400)}";
                    Assert.Equal(held.Remove(id), queue.Remove(id));
                    break;
                case 3:
                    var limit = rng.Next(100, 2_500);
                    if (queue.DequeueNext(j => j.KvTokens <= limit) is { } served)
                    {
                        Assert.True(held.Remove(served.JobId));
                    }

                    break;
                default:
                    if (queue.DequeueNext(_ => true, maxKvTokens: rng.Next(100, 2_500)) is { } taken)
                    {
                        Assert.True(held.Remove(taken.JobId));
                    }

                    break;
            }

            if (step % 100 == 0 || step == 2_999)
            {
                AssertTallyIs(held.Values, queue.Tally);
            }
        }
    }

    private static void AssertTallyIs(IEnumerable<JobDemand> jobs, QueueTally tally)
    {
        var expected = jobs.GroupBy(j => (j.TenantId, j.Priority)).ToDictionary(g => g.Key, g => g.Count());
        var actual = tally.ByTenantAndClass.ToDictionary(q => (q.TenantId, q.Priority), q => q.Jobs);
        Assert.Equal(expected.OrderBy(e => e.Key), actual.OrderBy(e => e.Key));
        Assert.Equal(jobs.Sum(j => (long)j.PromptTokens), tally.PromptTokens);
        Assert.Equal(jobs.Sum(j => (long)j.MaxTokens), tally.OutputTokens);
    }
}
