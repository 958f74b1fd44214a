using Scheduler.Policies;
using Scheduler.Policies.Placement;
using Scheduler.Policies.Profiles;
using static Scheduler.Tests.Policies.PolicyFixtures;

namespace Scheduler.Tests.Policies;

public sealed class ReplicaSetTests
{
    private readonly CostAwarePlacement _costAware = new();

    /// <summary>Every replica that can take the job, in registration order: what a scan of the fleet sees.</summary>
    private static List<ReplicaView> Candidates(ReplicaSet set, JobDemand job) => [.. set.Values.Where(r => r.Schedulable && r.Fits(job))];

    [Fact]
    public void SchedulableCount_FollowsCordons_Replacements_AndRemovals()
    {
        var set = new ReplicaSet { ["a"] = Replica("a", AcceleratorProfiles.L4), ["b"] = Replica("b", AcceleratorProfiles.H100) };
        Assert.Equal(2, set.SchedulableCount);

        set["a"].Schedulable = false;
        set["a"].Schedulable = false;
        Assert.Equal(1, set.SchedulableCount);

        var added = Replica("c", AcceleratorProfiles.L4);
        set["c"] = added;
        Assert.Equal(2, set.SchedulableCount);
        added.Schedulable = false;
        Assert.Equal(1, set.SchedulableCount);

        // Replacing a switched-off view with a schedulable one, and removing one, move the count.
        set["a"] = Replica("a", AcceleratorProfiles.L4);
        Assert.Equal(2, set.SchedulableCount);
        Assert.True(set.Remove("b"));
        Assert.Equal(1, set.SchedulableCount);
        Assert.True(set.Remove("c"));
        Assert.Equal(1, set.SchedulableCount);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    public void CostAware_IndexedChoice_IsTheScanOfEveryCandidate_OnRandomFleets(int seed)
    {
        var random = new Random(seed);
        IndexedChoiceIsTheScan(random, RandomFleet.Replicas(random, random.Next(1, 80)), id => RandomFleet.Job(random, id));
    }

    [Theory]
    [InlineData(1, 0.0)]
    [InlineData(2, 0.0003)]
    [InlineData(3, 0.01)]
    [InlineData(4, 1.0)]
    public void CostAware_IndexedChoice_IsTheScanOfEveryCandidate_AtAnyPriceOfWaiting(int seed, double waitCostUsdPerSecond)
    {
        // The index offers one replica per class and running count, the one with the least prefill ahead: priced, the wait
        // only adds to that one's lead.
        var random = new Random(seed);
        var placement = new CostAwarePlacement(new PlacementSettings { WaitCostUsdPerSecond = waitCostUsdPerSecond });
        IndexedChoiceIsTheScan(random, RandomFleet.Replicas(random, random.Next(1, ReplicaSet.MaxPrefixHoldersVisited + 1)), id => RandomFleet.SessionJob(random, id), placement);
    }

    /// <summary>Seeds of the property tests on fleets of at most <see cref="ReplicaSet.MaxPrefixHoldersVisited"/> replicas.</summary>
    public static TheoryData<int> PrefixSeeds => [1, 2, 3, 4, 5, 6];

    [Theory]
    [MemberData(nameof(PrefixSeeds))]
    public void CostAware_IndexedChoice_IsTheScanOfEveryCandidate_WithSharedPrefixes(int seed)
    {
        // Up to 32 replicas: the index visits at most 32 of a prefix's holders, so on a larger fleet a 33rd could hold
        // more than those it visits.
        var random = new Random(seed);
        IndexedChoiceIsTheScan(random, RandomFleet.Replicas(random, random.Next(1, ReplicaSet.MaxPrefixHoldersVisited + 1)), id => RandomFleet.PrefixedJob(random, id));
    }

    [Theory]
    [MemberData(nameof(PrefixSeeds))]
    public void CostAware_IndexedChoice_IsTheScanOfEveryCandidate_WithSessions(int seed)
    {
        // A session's cost depends on the replica's KV capacity, which replicas of one profile and slots may differ in.
        var random = new Random(seed);
        IndexedChoiceIsTheScan(random, RandomFleet.Replicas(random, random.Next(1, ReplicaSet.MaxPrefixHoldersVisited + 1)), id => RandomFleet.SessionJob(random, id));
    }

    private void IndexedChoiceIsTheScan(Random random, ReplicaView[] fleet, Func<string, JobDemand> nextJob, CostAwarePlacement? placement = null)
    {
        var costAware = placement ?? _costAware;
        var set = new ReplicaSet();
        foreach (var replica in fleet)
        {
            set[replica.ReplicaId] = replica;
        }

        var running = new List<(ReplicaView Replica, JobDemand Job)>();
        var checkedWithChoice = 0;
        for (var step = 0; step < 2_000; step++)
        {
            var job = nextJob($"j{step}");
            var candidates = Candidates(set, job);
            var scanned = costAware.Choose(job, candidates);

            Assert.Same(scanned, costAware.Choose(job, set));
            Assert.Equal(candidates.Count > 0, set.FitsSomewhere(job));
            var collected = new List<ReplicaView>();
            set.CollectCandidates(job, collected);
            Assert.Equal(candidates, collected);

            if (scanned is not null && random.Next(10) < 6)
            {
                checkedWithChoice++;
                scanned.Admit(job);
                running.Add((scanned, job));
            }

            Churn(random, set, running);
        }

        Assert.True(checkedWithChoice > 200, $"only {checkedWithChoice} admissions: the fleet was too often full to test much");
    }

    // Finishes, first tokens, cordons and re-registrations, as the placement grain sees them.
    private static void Churn(Random random, ReplicaSet set, List<(ReplicaView Replica, JobDemand Job)> running)
    {
        if (running.Count > 0 && random.Next(10) < 5)
        {
            var i = random.Next(running.Count);
            var (replica, job) = running[i];
            if (random.Next(2) == 0)
            {
                replica.PrefillDone(job.JobId);
            }
            else
            {
                replica.Release(job.JobId);
                running.RemoveAt(i);
            }
        }

        var ids = set.Values.Select(r => r.ReplicaId).ToArray();
        var target = set[ids[random.Next(ids.Length)]];
        switch (random.Next(40))
        {
            case 0:
                target.Schedulable = !target.Schedulable;
                break;
            case 1 when target.RunningSequences == 0:
                set[target.ReplicaId] = RandomFleet.Replica(random, target.ReplicaId);
                break;
        }
    }

    [Fact]
    public void Set_ReplacingAReplica_KeepsItsPlace_AndTheOldViewLeavesTheIndex()
    {
        var set = new ReplicaSet();
        set["a"] = Replica("a", AcceleratorProfiles.L4);
        var old = Replica("b", AcceleratorProfiles.H100);
        set["b"] = old;
        set["c"] = Replica("c", AcceleratorProfiles.A100);

        var fresh = Replica("b", AcceleratorProfiles.Lpu);
        set["b"] = fresh;

        Assert.Equal(["a", "b", "c"], set.Values.Select(r => r.ReplicaId));
        Assert.Same(fresh, set["b"]);
        Assert.True(set.TryGetValue("b", out var found) && found == fresh);
        Assert.Equal(3, set.Count);

        // The old view is no longer a candidate, and changing it touches nothing.
        old.Admit(Job("stale"));
        var job = Job("j", ttftObjectiveMs: 1_000);
        Assert.Equal("b", new CostAwarePlacement().Choose(job, set)?.ReplicaId); // the LPU: metered, cheapest
        Assert.DoesNotContain(old, Candidates(set, job));
    }

    [Fact]
    public void Set_AViewInAnotherSet_Throws()
    {
        var view = Replica("a", AcceleratorProfiles.L4);
        var first = new ReplicaSet();
        first["a"] = view;
        first["a"] = view; // the same place again changes nothing

        Assert.Throws<InvalidOperationException>(() => new ReplicaSet()["a"] = view);
        Assert.Throws<InvalidOperationException>(() => first["other"] = view);
    }

    [Fact]
    public void FitsSomewhere_FollowsSlotsKvAndCordons()
    {
        var set = new ReplicaSet();
        var small = Replica("small", AcceleratorProfiles.H100, maxSequences: 1, kvCapacityTokens: 1_000);
        var big = Replica("big", AcceleratorProfiles.H100, maxSequences: 4, kvCapacityTokens: 5_000);
        set["small"] = small;
        set["big"] = big;
        var job = Job("j", prompt: 3_000, maxTokens: 1_000);

        Assert.True(set.FitsSomewhere(job));
        big.Admit(Job("half", prompt: 2_000, maxTokens: 500));
        Assert.False(set.FitsSomewhere(job));   // 2,500 free on big, 1,000 on small
        Assert.True(set.FitsSomewhere(Job("k", prompt: 900, maxTokens: 100)));
        small.Schedulable = false;
        big.Admit(Job("more", prompt: 1_000, maxTokens: 600)); // 900 free on big
        Assert.False(set.FitsSomewhere(Job("k", prompt: 900, maxTokens: 100)));
        small.Schedulable = true;
        Assert.True(set.FitsSomewhere(Job("k", prompt: 900, maxTokens: 100)));
        big.Release("half");
        big.Release("more");
        Assert.True(set.FitsSomewhere(job));
    }
}
