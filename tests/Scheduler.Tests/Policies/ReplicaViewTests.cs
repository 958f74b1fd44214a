using Scheduler.Policies;
using Scheduler.Policies.Prefix;
using Scheduler.Policies.Profiles;
using static Scheduler.Tests.Policies.PolicyFixtures;

namespace Scheduler.Tests.Policies;

public sealed class ReplicaViewTests
{
    [Fact]
    public void Admit_ReservesSlotKvAndPrefill_ReturnsSequencesAlreadyRunning()
    {
        var replica = Replica("r", AcceleratorProfiles.H100, maxSequences: 4, kvCapacityTokens: 10_000);

        Assert.Equal(0, replica.Admit(Job("a", prompt: 300, maxTokens: 100)));
        Assert.Equal(1, replica.Admit(Job("b", prompt: 200, maxTokens: 50)));

        Assert.Equal(2, replica.RunningSequences);
        Assert.Equal(2, replica.FreeSlots);
        Assert.Equal(650, replica.ReservedKvTokens);
        Assert.Equal(10_000 - 650, replica.FreeKvTokens);
        Assert.Equal(500, replica.PendingPrefillTokens);
        Assert.Equal(["a", "b"], replica.RunningJobIds.Order());
        Assert.True(replica.IsRunning("a"));
    }

    [Fact]
    public void Release_FreesSlotAndKv_UnknownJobReturnsFalse()
    {
        var replica = Replica("r", AcceleratorProfiles.H100, maxSequences: 4, kvCapacityTokens: 10_000);
        replica.Admit(Job("a", prompt: 300, maxTokens: 100));
        replica.Admit(Job("b", prompt: 200, maxTokens: 50));

        Assert.True(replica.Release("a"));
        Assert.False(replica.Release("a"));
        Assert.False(replica.Release("never-admitted"));

        Assert.Equal(1, replica.RunningSequences);
        Assert.Equal(250, replica.ReservedKvTokens);
        Assert.False(replica.IsRunning("a"));
        Assert.True(replica.IsRunning("b"));

        Assert.True(replica.Release("b"));
        Assert.Equal(0, replica.RunningSequences);
        Assert.Equal(0, replica.ReservedKvTokens);
        Assert.Equal(0, replica.PendingPrefillTokens);
        Assert.Equal(4, replica.FreeSlots);
    }

    [Fact]
    public void PrefillDone_ReducesPendingPrefillByThatJobsPromptOnce()
    {
        var replica = Replica("r", AcceleratorProfiles.H100);
        replica.Admit(Job("a", prompt: 300));
        replica.Admit(Job("b", prompt: 200));

        replica.PrefillDone("a");
        Assert.Equal(200, replica.PendingPrefillTokens);

        // Reported twice, or for a job never admitted here: nothing more to take off.
        replica.PrefillDone("a");
        replica.PrefillDone("unknown");
        Assert.Equal(200, replica.PendingPrefillTokens);

        // A job released before its first token (cancelled, handed back) takes its pending prompt with it.
        Assert.True(replica.Release("b"));
        Assert.Equal(0, replica.PendingPrefillTokens);
    }

    [Fact]
    public void Admit_APromptIsCachedOnlyOnceItsPrefillIsDone_AsTheEngineStoresIt()
    {
        var replica = Replica("r", AcceleratorProfiles.H100, maxSequences: 8, kvCapacityTokens: 100_000);
        var blocks = PromptBlocks.FromBlockIds([1, 2, 3, 4], blockTokens: 100)!;
        JobDemand Shared(string id) => Job(id, prompt: 450, maxTokens: 10) with { Blocks = blocks };

        // The first two are admitted before either is prefilled: the engine computes the prompt twice, and the
        // pending prefill says so.
        replica.Admit(Shared("a"));
        Assert.Equal(0, replica.CachedPromptTokens(Shared("b")));
        replica.Admit(Shared("b"));
        Assert.Equal(900, replica.PendingPrefillTokens);

        // Once one is prefilled, a third finds its four blocks, and only the rest is pending for it.
        replica.PrefillDone("a");
        Assert.Equal(400, replica.CachedPromptTokens(Shared("c")));
        replica.Admit(Shared("c"));
        Assert.Equal(450 + 50, replica.PendingPrefillTokens);
    }

    [Fact]
    public void PendingPrefillUpTo_CountsThePromptsOfRanksNotAboveIt()
    {
        var replica = Replica("r", AcceleratorProfiles.H100);
        replica.Admit(Job("flood-1", tenant: "flood", prompt: 1_000), fairRank: 0);
        replica.Admit(Job("flood-2", tenant: "flood", prompt: 2_000), fairRank: 1);
        replica.Admit(Job("flood-3", tenant: "flood", prompt: 4_000), fairRank: 2);
        replica.Admit(Job("light-1", tenant: "light", prompt: 300), fairRank: 0);

        Assert.Equal(1_300, replica.PendingPrefillUpTo(0));
        Assert.Equal(3_300, replica.PendingPrefillUpTo(1.5));
        Assert.Equal(7_300, replica.PendingPrefillUpTo(2));
        Assert.Equal(7_300, replica.PendingPrefillUpTo(9));

        replica.PrefillDone("flood-1");
        Assert.Equal(300, replica.PendingPrefillUpTo(0));
        Assert.Equal(6_300, replica.PendingPrefillTokens);
    }

    [Fact]
    public void PrefillReordered_WhileAPromptIsRankedAboveWhatWasPrefilled()
    {
        var replica = Replica("r", AcceleratorProfiles.H100);
        replica.Admit(Job("a", tenant: "a", prompt: 1_000), fairRank: 0);
        Assert.False(replica.PrefillReordered);

        replica.Admit(Job("b", tenant: "b", prompt: 1_000), fairRank: 500);
        Assert.True(replica.PrefillReordered);

        // Once the rank-500 prompt is prefilled, the virtual time is 500 and nothing pending is ranked above it.
        replica.Admit(Job("c", tenant: "c", prompt: 1_000), fairRank: 500);
        replica.PrefillDone("b");
        Assert.Equal(500, replica.PrefilledRank);
        Assert.False(replica.PrefillReordered);
    }

    [Fact]
    public void Fits_FalseWhenSlotsAreFull()
    {
        var replica = Replica("r", AcceleratorProfiles.H100, maxSequences: 2, kvCapacityTokens: 1_000_000);
        replica.Admit(Job("a", prompt: 1, maxTokens: 1));
        replica.Admit(Job("b", prompt: 1, maxTokens: 1));

        Assert.False(replica.Fits(Job("c", prompt: 1, maxTokens: 1)));
    }

    [Fact]
    public void Fits_FalseWhenKvIsShort_TrueWhenItFitsExactly()
    {
        var replica = Replica("r", AcceleratorProfiles.H100, maxSequences: 100, kvCapacityTokens: 1_000);
        replica.Admit(Job("a", prompt: 400, maxTokens: 200));

        Assert.False(replica.Fits(Job("too-big", prompt: 300, maxTokens: 101)));
        Assert.True(replica.Fits(Job("exact", prompt: 300, maxTokens: 100)));
    }

    [Fact]
    public void Admit_WhenItDoesNotFit_ThrowsAndChangesNothing()
    {
        var replica = Replica("r", AcceleratorProfiles.H100, maxSequences: 1, kvCapacityTokens: 1_000);
        replica.Admit(Job("a", prompt: 100, maxTokens: 100));

        Assert.Throws<InvalidOperationException>(() => replica.Admit(Job("b", prompt: 1, maxTokens: 1)));

        var kvBound = Replica("kv", AcceleratorProfiles.H100, maxSequences: 10, kvCapacityTokens: 1_000);
        Assert.Throws<InvalidOperationException>(() => kvBound.Admit(Job("huge", prompt: 900, maxTokens: 101)));

        Assert.Equal(1, replica.RunningSequences);
        Assert.Equal(200, replica.ReservedKvTokens);
        Assert.Equal(1, replica.Admissions);
        Assert.Equal(0, kvBound.RunningSequences);
        Assert.Equal(0, kvBound.ReservedKvTokens);
        Assert.Equal(0, kvBound.PendingPrefillTokens);
        Assert.Equal(0, kvBound.Admissions);
    }

    [Fact]
    public void AdmissionsIntoRunningBatch_CountsOnlyJoinsToANonEmptyBatch()
    {
        var replica = Replica("r", AcceleratorProfiles.H100, maxSequences: 8, kvCapacityTokens: 100_000);

        replica.Admit(Job("a"));            // empty batch
        replica.Admit(Job("b"));            // joins a
        replica.Release("a");
        replica.Admit(Job("c"));            // joins b
        replica.Release("b");
        replica.Release("c");
        replica.Admit(Job("d"));            // empty again

        Assert.Equal(4, replica.Admissions);
        Assert.Equal(2, replica.AdmissionsIntoRunningBatch);
    }

    [Fact]
    public void Fits_NeverAllowsPastSlotsOrKv_UnderRandomAdmitsAndReleases()
    {
        var random = new Random(20250101);
        var replica = Replica("r", AcceleratorProfiles.L4, maxSequences: 6, kvCapacityTokens: 5_000);
        var running = new List<string>();
        var next = 0;

        for (var step = 0; step < 5_000; step++)
        {
            if (running.Count > 0 && random.NextDouble() < 0.4)
            {
                var victim = running[random.Next(running.Count)];
                Assert.True(replica.Release(victim));
                running.Remove(victim);
            }
            else
            {
                var job = Job($"j{next++}", prompt: random.Next(1, 1_500), maxTokens: random.Next(1, 800));
                var slotsBefore = replica.FreeSlots;
                var kvBefore = replica.FreeKvTokens;
                var expectedFit = slotsBefore > 0 && kvBefore >= job.KvTokens;
                Assert.Equal(expectedFit, replica.Fits(job));
                if (replica.Fits(job))
                {
                    replica.Admit(job);
                    running.Add(job.JobId);
                }
                else
                {
                    Assert.Throws<InvalidOperationException>(() => replica.Admit(job));
                }
            }

            Assert.InRange(replica.RunningSequences, 0, replica.MaxSequences);
            Assert.InRange(replica.ReservedKvTokens, 0, replica.KvCapacityTokens);
            Assert.Equal(running.Count, replica.RunningSequences);
        }
    }

    [Fact]
    public void RunningOf_CountsEachTenantsSequences_UntilReleased()
    {
        var replica = Replica("r", AcceleratorProfiles.H100, maxSequences: 4, kvCapacityTokens: 10_000);
        replica.Admit(Job("a1", tenant: "a", prompt: 10, maxTokens: 10));
        replica.Admit(Job("a2", tenant: "a", prompt: 10, maxTokens: 10));
        replica.Admit(Job("b1", tenant: "b", prompt: 10, maxTokens: 10));

        Assert.Equal(2, replica.RunningOf("a"));
        Assert.Equal(1, replica.RunningOf("b"));
        Assert.Equal(0, replica.RunningOf("c"));

        replica.Release("a1");
        replica.Release("b1");

        Assert.Equal(1, replica.RunningOf("a"));
        Assert.Equal(0, replica.RunningOf("b"));
    }
}
