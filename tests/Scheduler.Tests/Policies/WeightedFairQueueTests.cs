using Scheduler.Policies;
using Scheduler.Policies.Fairness;
using static Scheduler.Tests.Policies.PolicyFixtures;

namespace Scheduler.Tests.Policies;

public sealed class WeightedFairQueueTests
{
    private readonly WeightedFairQueue _queue = new();
    private int _next;

    /// <summary>A job of exactly <paramref name="units"/> service units (prompt = units, no output).</summary>
    private JobDemand Units(string tenant, int units, JobPriority priority = JobPriority.Standard) =>
        Job($"{tenant}-{_next++}", tenant, prompt: units, maxTokens: 0, priority: priority);

    private List<JobDemand> Drain(int max = int.MaxValue)
    {
        var served = new List<JobDemand>();
        while (served.Count < max && _queue.DequeueNext(_ => true) is { } job)
        {
            served.Add(job);
        }

        return served;
    }

    [Fact]
    public void ServiceUnits_InputCountsOnce_OutputTwice()
    {
        var job = Job("j", prompt: 100, maxTokens: 50);

        Assert.Equal(200, job.ServiceUnits);
        Assert.Equal(150, job.KvTokens);
    }

    [Fact]
    public void PeekNext_IsWhatDequeueNextServes_WhenEveryJobFits_AndTakesNothing()
    {
        var rng = new Random(7);
        for (var i = 0; i < 60; i++)
        {
            _queue.Enqueue(Units($"t{rng.Next(4)}", rng.Next(1, 500), (JobPriority)rng.Next(1, 4)));
        }

        while (_queue.Count > 0)
        {
            var count = _queue.Count;
            var peeked = _queue.PeekNext();
            Assert.Equal(count, _queue.Count);
            Assert.Equal(peeked, _queue.DequeueNext(_ => true));
        }

        Assert.Null(_queue.PeekNext());
    }

    [Fact]
    public void DequeueNext_StrictPriority_ClassesBeforeCounters()
    {
        // Tenant "heavy" has used far more than "light", yet its critical job goes first; and light's
        // sheddable job waits behind heavy's standard ones.
        for (var i = 0; i < 5; i++)
        {
            _queue.Enqueue(Units("heavy", 1_000));
        }

        Drain();
        var lightShed = Units("light", 10, JobPriority.Sheddable);
        var lightStd = Units("light", 10);
        var heavyStd = Units("heavy", 1_000);
        var heavyCrit = Units("heavy", 1_000, JobPriority.Critical);
        _queue.Enqueue(lightShed);
        _queue.Enqueue(lightStd);
        _queue.Enqueue(heavyStd);
        _queue.Enqueue(heavyCrit);

        var order = Drain().Select(j => j.JobId);

        Assert.Equal([heavyCrit.JobId, lightStd.JobId, heavyStd.JobId, lightShed.JobId], order);
    }

    [Fact]
    public void DequeueNext_WithinTenantAndClass_IsFifo()
    {
        var jobs = Enumerable.Range(0, 5).Select(_ => Units("t", 10)).ToList();
        jobs.ForEach(_queue.Enqueue);

        Assert.Equal(jobs.Select(j => j.JobId), Drain().Select(j => j.JobId));
        Assert.Null(_queue.DequeueNext(_ => true));
        Assert.Equal(0, _queue.Count);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void DequeueNext_Weights3To1_BothBacklogged_ServiceConvergesTo3To1(bool randomSizes)
    {
        var random = new Random(31);
        _queue.SetWeight("a", 3);
        _queue.SetWeight("b", 1);
        for (var i = 0; i < 2_000; i++)
        {
            _queue.Enqueue(randomSizes ? Job($"a{i}", "a", random.Next(1, 2_000), random.Next(1, 500)) : Units("a", 200));
            _queue.Enqueue(randomSizes ? Job($"b{i}", "b", random.Next(1, 2_000), random.Next(1, 500)) : Units("b", 200));
        }

        var served = new Dictionary<string, double> { ["a"] = 0, ["b"] = 0 };
        for (var i = 0; i < 1_000; i++)
        {
            var job = _queue.DequeueNext(_ => true)!;
            served[job.TenantId] += job.ServiceUnits;
        }

        Assert.True(_queue.CountOf("a") > 0 && _queue.CountOf("b") > 0, "both stayed backlogged");
        Assert.InRange(served["a"] / served["b"], 3 * 0.9, 3 * 1.1);
    }

    [Fact]
    public void Enqueue_NewlyBackloggedTenant_StartsAtMinCounter_NoBurst()
    {
        // "a" and "b" are served while "c" only idles; when "c" arrives it must not get a burst of service.
        for (var i = 0; i < 40; i++)
        {
            _queue.Enqueue(Units("a", 100));
            _queue.Enqueue(Units("b", 100));
        }

        Drain(40);
        Assert.True(_queue.CountOf("a") > 0 && _queue.CountOf("b") > 0);
        for (var i = 0; i < 20; i++)
        {
            _queue.Enqueue(Units("c", 100));
        }

        var next = Drain(30).GroupBy(j => j.TenantId).ToDictionary(g => g.Key, g => g.Count());

        Assert.InRange(next["c"], 9, 11);
        Assert.InRange(next["a"], 9, 11);
        Assert.InRange(next["b"], 9, 11);
    }

    [Fact]
    public void Enqueue_TenantReturningWhileOthersBacklogged_GetsNoCreditForTimeAway()
    {
        _queue.Enqueue(Units("c", 100));
        for (var i = 0; i < 60; i++)
        {
            _queue.Enqueue(Units("a", 100));
            _queue.Enqueue(Units("b", 100));
        }

        Drain(3);                                   // c's only job is served, then c idles
        Assert.Equal(0, _queue.CountOf("c"));
        Drain(40);                                  // a and b are served 20 each meanwhile
        for (var i = 0; i < 20; i++)
        {
            _queue.Enqueue(Units("c", 100));
        }

        var next = Drain(9).Count(j => j.TenantId == "c");

        Assert.InRange(next, 2, 4);
    }

    [Fact]
    public void Enqueue_NewlyBackloggedIntoEmptyQueue_GetsNoCreditFromIdling()
    {
        // "a" is served alone (the queue drains after each burst, as it does under light load) ...
        for (var i = 0; i < 10; i++)
        {
            _queue.Enqueue(Units("a", 300));
        }

        Drain();
        Assert.Equal(0, _queue.Count);

        // ... then "b", which idled all along, and "a" both become backlogged.
        for (var i = 0; i < 10; i++)
        {
            _queue.Enqueue(Units("b", 300));
        }

        for (var i = 0; i < 10; i++)
        {
            _queue.Enqueue(Units("a", 300));
        }

        // Both are continuously backlogged from here on: VTC bounds their service gap by 2 × 300 units,
        // so "a" must be served within the first few picks. Today "b" takes all of the next 10.
        var next = Drain(6);

        Assert.InRange(next.Count(j => j.TenantId == "a"), 2, 4);
    }

    [Theory]
    [InlineData(1, 1.0, 1.0)]
    [InlineData(2, 3.0, 1.0)]
    [InlineData(3, 1.0, 5.0)]
    [InlineData(4, 2.5, 0.5)]
    [InlineData(5, 1.0, 1.0)]
    [InlineData(6, 4.0, 1.0)]
    public void DequeueNext_ContinuouslyBackloggedTenants_ServiceGapWithinVtcBound(int seed, double weightA, double weightB)
    {
        // Random arrivals for "a" and "b" plus a third tenant "x" that is always backlogged, so the queue never
        // drains (the drained case is the skipped test below). Whenever "a" and "b" are both backlogged, their
        // weighted service must stay within 2 × the largest weighted request of either (VTC).
        var gaps = RunBacklogGapScenario(seed, weightA, weightB, keepQueueBusy: true);

        Assert.True(gaps.Windows >= 3, $"only {gaps.Windows} windows with both tenants backlogged");
        Assert.True(gaps.MaxGapRatio <= 2, $"seed {seed}: service gap reached {gaps.MaxGapRatio:F2} × the largest request");
    }

    [Theory]
    [InlineData(1, 1.0, 1.0)]
    [InlineData(2, 3.0, 1.0)]
    [InlineData(3, 1.0, 5.0)]
    public void DequeueNext_BackloggedTenantsWithDrainingQueue_ServiceGapWithinVtcBound(int seed, double weightA, double weightB)
    {
        var gaps = RunBacklogGapScenario(seed, weightA, weightB, keepQueueBusy: false);

        Assert.True(gaps.Windows >= 3, $"only {gaps.Windows} windows with both tenants backlogged");
        Assert.True(gaps.MaxGapRatio <= 2, $"seed {seed}: service gap reached {gaps.MaxGapRatio:F2} × the largest request");
    }

    [Theory]
    [InlineData(11, 1.0, 1.0)]
    [InlineData(12, 3.0, 1.0)]
    [InlineData(13, 1.0, 4.0)]
    [InlineData(14, 2.0, 0.5)]
    public void DequeueNext_PrioritiesAndDeadlinesPresent_SameClassTenantsStayWithinVtcBound(int seed, double weightA, double weightB)
    {
        // Strict priority classes and EDF sit above and below the counters; neither may break the VTC bound between
        // two tenants backlogged in the same class, while a third tenant's critical jobs pre-empt them and its
        // sheddable jobs are passed over.
        var gaps = RunBacklogGapScenario(seed, weightA, weightB, keepQueueBusy: true, withPriorities: true);

        Assert.True(gaps.Windows >= 3, $"only {gaps.Windows} windows with both tenants backlogged");
        Assert.True(gaps.MaxGapRatio <= 2, $"seed {seed}: service gap reached {gaps.MaxGapRatio:F2} × the largest request");
    }

    [Fact]
    public void DequeueNext_WithinTenantAndClass_EarliestDeadlineFirst_ThenArrival_ThenJobsWithoutDeadline()
    {
        var none1 = Units("t", 10);
        var late = Units("t", 10) with { Deadline = T0.AddSeconds(30) };
        var early = Units("t", 10) with { Deadline = T0.AddSeconds(10) };
        var none2 = Units("t", 10);
        var lateToo = Units("t", 10) with { Deadline = T0.AddSeconds(30) };
        var earliest = Units("t", 10) with { Deadline = T0.AddSeconds(5) };
        foreach (var job in new[] { none1, late, early, none2, lateToo, earliest })
        {
            _queue.Enqueue(job);
        }

        Assert.Equal(0, _queue.PositionOf(earliest.JobId));
        Assert.Equal(5, _queue.PositionOf(none2.JobId));
        Assert.Equal([earliest.JobId, early.JobId, late.JobId, lateToo.JobId, none1.JobId, none2.JobId], Drain().Select(j => j.JobId));
    }

    [Fact]
    public void DequeueNext_DeadlinesOrderOnlyTheirTenant_CountersStillChooseTheTenant()
    {
        // "a" has been served far more than "b", which stayed backlogged: all of b's jobs go before a's, even
        // though a's job has the earliest deadline. Within b, its job with a deadline goes before its others.
        _queue.Enqueue(Units("a", 1_000));
        var bSmall = Units("b", 10);
        var bFiller = Units("b", 10);
        _queue.Enqueue(bSmall);
        _queue.Enqueue(bFiller);
        Assert.Equal("a", Drain(1).Single().TenantId);
        var aUrgent = Units("a", 10) with { Deadline = T0.AddSeconds(1) };
        var bRelaxed = Units("b", 10) with { Deadline = T0.AddHours(1) };
        _queue.Enqueue(aUrgent);
        _queue.Enqueue(bRelaxed);

        Assert.Equal([bRelaxed.JobId, bSmall.JobId, bFiller.JobId, aUrgent.JobId], Drain().Select(j => j.JobId));
    }

    [Fact]
    public void DequeueNext_StrictPriority_BeatsAnEarlierDeadlineInALowerClass()
    {
        var sheddableUrgent = Units("t", 10, JobPriority.Sheddable) with { Deadline = T0.AddSeconds(1) };
        var standardRelaxed = Units("t", 10) with { Deadline = T0.AddHours(1) };
        _queue.Enqueue(sheddableUrgent);
        _queue.Enqueue(standardRelaxed);

        Assert.Equal([standardRelaxed.JobId, sheddableUrgent.JobId], Drain().Select(j => j.JobId));
    }

    [Fact]
    public void DequeueNext_CriticalTooLargeToPlace_LetsLowerClassesUseTheCapacity()
    {
        // Work conservation across classes: a lower class goes only when no higher-class job can be placed.
        var bigCritical = Units("a", 5_000, JobPriority.Critical);
        var smallStandard = Units("b", 10);
        _queue.Enqueue(bigCritical);
        _queue.Enqueue(smallStandard);

        Assert.Equal(smallStandard.JobId, _queue.DequeueNext(j => j.KvTokens < 1_000)?.JobId);
        Assert.Equal(bigCritical.JobId, _queue.DequeueNext(_ => true)?.JobId);
    }

    [Fact]
    public void EnqueueFront_ResumedJob_GoesBeforeEarlierDeadlines()
    {
        var urgent = Units("t", 10) with { Deadline = T0.AddSeconds(1) };
        var resumed = Units("t", 10);
        _queue.Enqueue(urgent);

        _queue.EnqueueFront(resumed);

        Assert.Equal([resumed.JobId, urgent.JobId], Drain().Select(j => j.JobId));
    }

    /// <summary>Drives the queue with phased random arrivals and one DequeueNext per step; returns how many windows
    /// had "a" and "b" both backlogged and the largest weighted service gap seen in one, in units of the
    /// largest weighted request of "a" or "b".</summary>
    private (int Windows, double MaxGapRatio) RunBacklogGapScenario(int seed, double weightA, double weightB, bool keepQueueBusy, bool withPriorities = false)
    {
        var random = new Random(seed);
        var weights = new Dictionary<string, double> { ["a"] = weightA, ["b"] = weightB, ["x"] = 1.0 };
        foreach (var (tenant, weight) in weights)
        {
            _queue.SetWeight(tenant, weight);
        }

        var largest = 0.0;
        var clock = T0;
        void Arrive(string tenant)
        {
            var job = Job($"{tenant}-{_next++}", tenant, random.Next(1, 2_000), random.Next(0, 600));
            if (withPriorities)
            {
                // "x" sends every class, so "a" and "b" (standard) wait behind its critical jobs and pass its sheddable
                // ones; "a" and "b" set random deadlines, which reorder each one's own queue (EDF) but not the shares.
                job = tenant == "x"
                    ? job with { Priority = (JobPriority)random.Next(1, 4) }
                    : job with { Deadline = random.NextDouble() < 0.7 ? clock.AddMilliseconds(random.Next(0, 60_000)) : null };
            }

            if (tenant != "x")
            {
                largest = Math.Max(largest, job.ServiceUnits / weights[tenant]);
            }

            _queue.Enqueue(job);
        }

        // Arrival rates per step (one job is served per step): solo trickles, joint floods, one-sided floods, silence.
        (double A, double B)[] patterns = [(0.5, 0), (0, 0.5), (0.8, 0.8), (0.3, 1.2), (1.2, 0.3), (0, 0), (0.6, 0.6)];
        var rates = patterns[0];
        var (servedA, servedB) = (0.0, 0.0);
        var windows = 0;
        var inWindow = false;
        var maxGapRatio = 0.0;
        for (var step = 0; step < 20_000; step++)
        {
            clock = clock.AddMilliseconds(10);
            if (step % 200 == 0)
            {
                rates = patterns[random.Next(patterns.Length)];
            }

            if (random.NextDouble() < rates.A)
            {
                Arrive("a");
            }

            if (random.NextDouble() < rates.B)
            {
                Arrive("b");
            }

            if (random.NextDouble() < rates.A - 1)
            {
                Arrive("a");
            }

            if (random.NextDouble() < rates.B - 1)
            {
                Arrive("b");
            }

            if (keepQueueBusy && (_queue.CountOf("x") == 0 || random.NextDouble() < 0.2))
            {
                Arrive("x");
            }

            var bothBacklogged = _queue.CountOf("a") > 0 && _queue.CountOf("b") > 0;
            if (bothBacklogged && !inWindow)
            {
                (servedA, servedB, inWindow) = (0, 0, true);
                windows++;
            }
            else if (!bothBacklogged)
            {
                inWindow = false;
            }

            if (_queue.DequeueNext(_ => true) is not { } job)
            {
                continue;
            }

            if (inWindow)
            {
                servedA += job.TenantId == "a" ? job.ServiceUnits / weightA : 0;
                servedB += job.TenantId == "b" ? job.ServiceUnits / weightB : 0;
                maxGapRatio = Math.Max(maxGapRatio, Math.Abs(servedA - servedB) / largest);
            }

            // A tenant whose queue emptied is no longer continuously backlogged: the window closes.
            if (_queue.CountOf("a") == 0 || _queue.CountOf("b") == 0)
            {
                inWindow = false;
            }
        }

        return (windows, maxGapRatio);
    }

    [Fact]
    public void EnqueueFront_PutsJobAheadOfItsTenantsQueue()
    {
        var a1 = Units("a", 10);
        var a2 = Units("a", 10);
        var again = Units("a", 10);
        _queue.Enqueue(a1);
        _queue.Enqueue(a2);

        _queue.EnqueueFront(again);

        Assert.Equal(0, _queue.PositionOf(again.JobId));
        Assert.Equal(1, _queue.PositionOf(a1.JobId));
        Assert.Equal(3, _queue.Count);
        Assert.Equal([again.JobId, a1.JobId, a2.JobId], Drain().Select(j => j.JobId));
    }

    [Fact]
    public void EnqueueFront_StaysWithinItsPriorityClass()
    {
        var critical = Units("a", 10, JobPriority.Critical);
        var resumedSheddable = Units("a", 10, JobPriority.Sheddable);
        var standard = Units("a", 10);
        _queue.Enqueue(critical);
        _queue.Enqueue(standard);

        _queue.EnqueueFront(resumedSheddable);

        Assert.Equal([critical.JobId, standard.JobId, resumedSheddable.JobId], Drain().Select(j => j.JobId));
    }

    [Fact]
    public void Remove_QueuedJob_IsNeverServed()
    {
        var keep = Units("a", 10);
        var drop = Units("a", 10);
        var other = Units("b", 10);
        _queue.Enqueue(drop);
        _queue.Enqueue(keep);
        _queue.Enqueue(other);

        Assert.True(_queue.Remove(drop.JobId));
        Assert.False(_queue.Remove(drop.JobId));
        Assert.False(_queue.Remove("unknown"));

        Assert.Equal(2, _queue.Count);
        Assert.Equal(1, _queue.CountOf("a"));
        Assert.Equal(-1, _queue.PositionOf(drop.JobId));
        Assert.DoesNotContain(drop.JobId, Drain().Select(j => j.JobId));
    }

    [Fact]
    public void Adjust_Refund_MovesTenantAhead()
    {
        _queue.Enqueue(Units("a", 300));
        _queue.Enqueue(Units("a", 300));
        _queue.Enqueue(Units("b", 300));
        _queue.Enqueue(Units("b", 300));
        var first = Drain(2);                   // one each: both counters at 300
        Assert.Equal(["a", "b"], first.Select(j => j.TenantId).Order());

        _queue.Adjust("b", -200);               // b's job stopped early: 100 output tokens refunded

        Assert.Equal(["b", "a"], Drain().Select(j => j.TenantId));
    }

    [Fact]
    public void Adjust_IsScaledByWeight_UnknownTenantIsIgnored()
    {
        _queue.SetWeight("a", 4);
        _queue.Enqueue(Units("a", 400));        // counter 100 once served
        _queue.Enqueue(Units("a", 400));
        _queue.Enqueue(Units("b", 150));
        _queue.Enqueue(Units("b", 150));
        Drain(2);                               // a → 100, b → 150

        _queue.Adjust("a", 400);                // +100 on a's counter → 200 > 150
        _queue.Adjust("nobody", -1_000_000);

        Assert.Equal("b", _queue.DequeueNext(_ => true)?.TenantId);
    }

    [Fact]
    public void DequeueNext_SkipsUnplaceableJob_ServesPlaceableOneBehindIt()
    {
        var big = Job("big", "a", prompt: 10_000, maxTokens: 1_000);
        var small = Job("small", "a", prompt: 10, maxTokens: 10);
        _queue.Enqueue(big);
        _queue.Enqueue(small);

        Assert.Equal("small", _queue.DequeueNext(j => j.KvTokens < 1_000)?.JobId);
        Assert.Null(_queue.DequeueNext(j => j.KvTokens < 1_000));
        Assert.Equal(1, _queue.Count);
        Assert.Equal("big", _queue.DequeueNext(_ => true)?.JobId);
    }

    [Fact]
    public void DequeueNext_AJobNeedingMoreKvThanIsFree_IsPassedOverUnasked()
    {
        _queue.Enqueue(Job("big", "a", prompt: 2_000, maxTokens: 100));
        _queue.Enqueue(Job("small", "a", prompt: 100, maxTokens: 100));
        _queue.Enqueue(Job("big-b", "b", prompt: 3_000, maxTokens: 100));
        var asked = new List<string>();
        bool Fits(JobDemand job)
        {
            asked.Add(job.JobId);
            return true;
        }

        Assert.Equal("small", _queue.DequeueNext(Fits, maxKvTokens: 1_000)?.JobId);
        Assert.Null(_queue.DequeueNext(Fits, maxKvTokens: 2_099));
        Assert.Equal(["small"], asked);
        Assert.Equal("big", _queue.DequeueNext(Fits, maxKvTokens: 2_100)?.JobId);
        Assert.Equal(["small", "big"], asked);
    }

    [Fact]
    public void DequeueNext_AsksLanesInCounterOrder_AndNoneAfterTheOneItServes()
    {
        // b's lane is the oldest; once each has had a job served, b's counter is 300 and a's 100, and c, newly
        // backlogged, starts level with a at 100 with the youngest lane: the order is a, c, b.
        _queue.Enqueue(Units("b", 300));
        _queue.Enqueue(Units("b", 10));
        _queue.Enqueue(Units("a", 100));
        _queue.Enqueue(Units("a", 10));
        Assert.Equal(["b", "a"], Drain(max: 2).Select(j => j.TenantId));
        _queue.Enqueue(Units("c", 10));
        var asked = new List<string>();
        bool NotC(JobDemand job)
        {
            asked.Add(job.TenantId);
            return job.TenantId != "c";
        }

        var served = _queue.DequeueNext(NotC);

        Assert.Equal("a", served?.TenantId);
        Assert.Equal(["a"], asked);
        asked.Clear();
        Assert.Equal("b", _queue.DequeueNext(NotC)?.TenantId);
        Assert.Equal(["c", "b"], asked);
    }

    /// <summary>
    /// Every tenant that ever queued keeps its lane (its counter and weight), and a pick visited all of them: with 20,000
    /// tenants seen, each admission cost a scan of 20,000 lanes, inside the placement's one turn at a time.
    /// </summary>
    [Fact]
    public void DequeueNext_ManyTenantsSeenBefore_DoesNotScanTheirLanes()
    {
        for (var t = 0; t < 20_000; t++)
        {
            _queue.Enqueue(Units($"once-{t}", 10));
        }

        Drain();
        for (var i = 0; i < 5_000; i++)
        {
            _queue.Enqueue(Units($"busy-{i % 2}", 10));
        }

        var served = 0;
        var spent = ThreadCpuTime.Of(() => served = Drain().Count);

        Assert.Equal(5_000, served);
        Assert.True(spent < TimeSpan.FromMilliseconds(100), $"5,000 picks with 20,000 idle lanes took {spent.TotalMilliseconds:0} ms of CPU");
    }

    [Fact]
    public void SetWeight_NonPositive_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _queue.SetWeight("a", 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => _queue.SetWeight("a", -1));
    }

    /// <summary>
    /// Positions and a newcomer's starting counter, checked against counters this test keeps itself, with many tenants
    /// whose counters change by charges, refunds and removals: the queue keeps each class's tenants ordered by counter
    /// incrementally (not scanned per submission), so a lane left where its counter was, or weighed by a job count it
    /// no longer has, shows up here as a wrong position.
    /// </summary>
    [Fact]
    public void PositionOf_ManyTenants_CountsHigherClasses_LowerCountersOfItsClass_AndItsLane_AsCountersMove()
    {
        var rng = new Random(11);
        var counters = new Dictionary<string, double>();
        var weights = new Dictionary<string, double>();
        var queued = new Dictionary<string, List<JobDemand>>();
        for (var t = 0; t < 120; t++)
        {
            var tenant = $"t{t}";
            (counters[tenant], weights[tenant], queued[tenant]) = (0, new[] { 0.5, 1, 2 }[rng.Next(3)], []);
            _queue.SetWeight(tenant, weights[tenant]);
            var priority = (JobPriority)rng.Next(1, 4);
            for (var j = 0; j < 6; j++)
            {
                var job = Units(tenant, rng.Next(1, 200), priority);
                _queue.Enqueue(job);
                queued[tenant].Add(job);
            }
        }

        int Expected(JobDemand job) =>
            queued.Values.Sum(jobs => jobs.Count(j => j.Priority < job.Priority))
            + queued.Where(q => q.Key != job.TenantId && Ahead(q.Key, job.TenantId)).Sum(q => q.Value.Count(j => j.Priority == job.Priority))
            + queued[job.TenantId].IndexOf(job);

        // A lower counter, or the same and an older lane (the queue first saw the tenants in the order they were added).
        var seen = queued.Keys.ToList();
        bool Ahead(string tenant, string of) =>
            counters[tenant] < counters[of] || (counters[tenant] == counters[of] && seen.IndexOf(tenant) < seen.IndexOf(of));

        void AssertPositions()
        {
            foreach (var job in queued.Values.SelectMany(jobs => jobs))
            {
                Assert.Equal(Expected(job), _queue.PositionOf(job.JobId));
            }
        }

        AssertPositions();
        for (var step = 0; step < 150; step++)
        {
            // Every tenant keeps at least two jobs queued: its counter then moves only by what the test charges.
            var (tenant, jobs) = queued.ElementAt(rng.Next(queued.Count));
            if (jobs.Count <= 2)
            {
                continue;
            }

            switch (rng.Next(3))
            {
                case 0:
                    var head = jobs[0];
                    Assert.Same(head, _queue.DequeueNext(j => j.JobId == head.JobId));
                    jobs.RemoveAt(0);
                    counters[tenant] += head.ServiceUnits / weights[tenant];
                    break;
                case 1:
                    var refund = -rng.Next(1, 400);
                    _queue.Adjust(tenant, refund);
                    counters[tenant] += refund / weights[tenant];
                    break;
                default:
                    var dropped = jobs[rng.Next(1, jobs.Count)];
                    Assert.True(_queue.Remove(dropped.JobId));
                    jobs.Remove(dropped);
                    break;
            }

            if (step % 10 == 0)
            {
                AssertPositions();
            }
        }

        AssertPositions();

        // Newcomers start level with the lowest counter of their class's backlog: ahead of the tenants above it, not of
        // the one at it.
        foreach (var priority in new[] { JobPriority.Critical, JobPriority.Standard, JobPriority.Sheddable })
        {
            var tenant = $"new-{priority}";
            // (A new lane's counter is 0: one below it after refunds starts at 0.)
            counters[tenant] = Math.Max(0, queued.Where(q => q.Value.Any(j => j.Priority == priority)).Min(q => counters[q.Key]));
            weights[tenant] = 1;
            var job = Units(tenant, 10, priority);
            _queue.Enqueue(job);
            queued[tenant] = [job];
            seen.Add(tenant);
            AssertPositions();
        }
    }

    /// <summary>
    /// A submission's queue position and a newly waiting tenant's starting counter cost the same with 20,000 tenants
    /// waiting as with 200: each scanned every tenant, in the placement's one turn at a time (2,000 tenants: p50 of a
    /// submission 11 ms for the first 200 tenants, 408 ms for the last). Timed as a ratio of the two sizes, each the best
    /// of three runs: scans of every tenant made it 15 with 2,000 newcomers (then 2,200 tenants in the small queue at
    /// the end), so 500 newcomers, which the scans would make about 45, and a bound of 10.
    /// </summary>
    [Fact]
    public void EnqueueOfANewTenant_AndItsPosition_DoNotScanEveryTenant()
    {
        static double BestMicroseconds(int tenants)
        {
            var best = double.MaxValue;
            for (var run = 0; run < 3; run++)
            {
                var queue = new WeightedFairQueue();
                for (var t = 0; t < tenants; t++)
                {
                    queue.Enqueue(Job($"waiting-{t}", $"t{t}", prompt: 1 + (t % 97), maxTokens: 0));
                }

                // Some tenants served, so that counters differ; the newcomers known (weights set), not yet waiting, so
                // that the loop timed allocates little beyond what a submission does.
                for (var served = 0; served < 50; served++)
                {
                    queue.DequeueNext(_ => true);
                }

                var newcomers = Enumerable.Range(0, 500).Select(n => Job($"new-{n}", $"newcomer-{n}", prompt: 10, maxTokens: 0)).ToArray();
                foreach (var job in newcomers)
                {
                    queue.SetWeight(job.TenantId, 1);
                }

                // The thread's CPU time: a loaded machine stretches the wall clock of one run and not the other's.
                GC.Collect();
                var positions = new int[newcomers.Length];
                var spent = ThreadCpuTime.Of(() =>
                {
                    for (var n = 0; n < newcomers.Length; n++)
                    {
                        queue.Enqueue(newcomers[n]);
                        positions[n] = queue.PositionOf(newcomers[n].JobId);
                    }
                });

                best = Math.Min(best, spent.TotalMicroseconds);

                // Each started level with the lowest counter: no tenant's counter is below it, so only the older lanes
                // at that counter are ahead of it — the same waiting ones for every newcomer, and the newcomers before it.
                Assert.Equal(Enumerable.Range(positions[0], newcomers.Length), positions);
            }

            return best;
        }

        var small = BestMicroseconds(200);
        var large = BestMicroseconds(20_000);

        Assert.True(large < 10 * small, $"500 submissions of new tenants: {small:0} µs with 200 tenants waiting, {large:0} µs with 20,000");
    }

    [Fact]
    public void PositionOf_SingleTenant_IsServingOrder()
    {
        var jobs = Enumerable.Range(0, 4).Select(_ => Units("a", 10)).ToList();
        jobs.ForEach(_queue.Enqueue);
        var urgent = Units("a", 10, JobPriority.Critical);
        _queue.Enqueue(urgent);

        Assert.Equal(0, _queue.PositionOf(urgent.JobId));
        Assert.Equal([1, 2, 3, 4], jobs.Select(j => _queue.PositionOf(j.JobId)));
        Assert.Equal(-1, _queue.PositionOf("unknown"));

        Drain(2);
        Assert.Equal(-1, _queue.PositionOf(jobs[0].JobId));
        Assert.Equal([0, 1, 2], jobs.Skip(1).Select(j => _queue.PositionOf(j.JobId)));
    }

    [Fact]
    public void PositionOf_TenantsTiedOnTheirCounters_AreNotBothNext_TheOneAtZeroIsServedFirst()
    {
        // An independent client saw two tenants' first jobs both at position 1 behind one critical job: "0 = next"
        // cannot hold for both. A pick breaks the tie by the older lane; positions do the same.
        var a = Units("a", 10);
        var b = Units("b", 10);
        var urgent = Units("c", 10, JobPriority.Critical);
        _queue.Enqueue(a);
        _queue.Enqueue(b);
        _queue.Enqueue(urgent);

        Assert.Equal([0, 1, 2], new[] { urgent, a, b }.Select(j => _queue.PositionOf(j.JobId)));
        Drain(1);
        Assert.Equal(0, _queue.PositionOf(a.JobId));
        Assert.Same(a, _queue.DequeueNext(_ => true));
    }

    [Fact]
    public void PositionOf_ALongLane_CountsFromWhicheverEndIsNearer()
    {
        // Counted from both ends of the lane at once (a job just queued is its last): every place comes out the same.
        var jobs = Enumerable.Range(0, 9).Select(_ => Units("a", 10)).ToList();
        jobs.ForEach(_queue.Enqueue);

        Assert.Equal(Enumerable.Range(0, 9), jobs.Select(j => _queue.PositionOf(j.JobId)));

        Assert.True(_queue.Remove(jobs[4].JobId));
        Assert.Equal(Enumerable.Range(0, 8), jobs.Where(j => j != jobs[4]).Select(j => _queue.PositionOf(j.JobId)));
    }

    [Fact]
    public void PositionOf_TenantBehindLowerCounter_CountsThatTenantsJobs()
    {
        // Both backlogged at counter 0; b's big job is served first (tie: first tenant), so b's counter is 500, a's 0.
        var big = Units("b", 500);
        var a1 = Units("a", 10);
        _queue.Enqueue(big);
        _queue.Enqueue(a1);
        Assert.Same(big, _queue.DequeueNext(_ => true));
        var a2 = Units("a", 10);
        var b1 = Units("b", 10);
        _queue.Enqueue(a2);
        _queue.Enqueue(b1);

        Assert.Equal(0, _queue.PositionOf(a1.JobId));
        Assert.Equal(1, _queue.PositionOf(a2.JobId));
        Assert.Equal(2, _queue.PositionOf(b1.JobId));
    }

    [Fact]
    public void PositionOf_UnderRandomOperations_StaysSane()
    {
        // In range, FIFO-monotone within a tenant's class, and the job served next is always at position 0.
        var random = new Random(7);
        var tenants = new[] { "a", "b", "c" };
        _queue.SetWeight("b", 2);
        var fifo = new Dictionary<(string, JobPriority), List<string>>();
        var priorities = Enum.GetValues<JobPriority>();

        for (var step = 0; step < 3_000; step++)
        {
            var roll = random.NextDouble();
            if (roll < 0.45)
            {
                var job = Job($"j{_next++}", tenants[random.Next(3)], random.Next(1, 1_000), random.Next(0, 300), priorities[random.Next(3)]);
                var list = ListOf(job);
                if (random.NextDouble() < 0.2)
                {
                    _queue.EnqueueFront(job);
                    list.Insert(0, job.JobId);
                }
                else
                {
                    _queue.Enqueue(job);
                    list.Add(job.JobId);
                }
            }
            else if (roll < 0.5 && _queue.Count > 0)
            {
                var victims = fifo.Values.Where(l => l.Count > 0).ToList();
                var list = victims[random.Next(victims.Count)];
                var victim = list[random.Next(list.Count)];
                Assert.True(_queue.Remove(victim));
                list.Remove(victim);
            }
            else if (_queue.Count > 0)
            {
                var positions = fifo.Values.SelectMany(l => l).ToDictionary(id => id, _queue.PositionOf);
                Assert.All(positions.Values, p => Assert.InRange(p, 0, _queue.Count - 1));
                foreach (var list in fifo.Values)
                {
                    for (var i = 1; i < list.Count; i++)
                    {
                        Assert.True(positions[list[i - 1]] < positions[list[i]]);
                    }
                }

                var served = _queue.DequeueNext(_ => true)!;
                Assert.Equal(0, positions[served.JobId]);
                Assert.Equal(served.JobId, ListOf(served)[0]);
                ListOf(served).RemoveAt(0);
            }

            Assert.Equal(fifo.Values.Sum(l => l.Count), _queue.Count);
        }

        List<string> ListOf(JobDemand job)
        {
            if (!fifo.TryGetValue((job.TenantId, job.Priority), out var list))
            {
                list = [];
                fifo[(job.TenantId, job.Priority)] = list;
            }

            return list;
        }
    }

    [Fact]
    public void WeightOf_IsTheWeightSet_OneUntilSet()
    {
        _queue.SetWeight("heavy", 4);

        Assert.Equal(4, _queue.WeightOf("heavy"));
        Assert.Equal(1, _queue.WeightOf("light"));
    }

    [Fact]
    public void DequeueNextHead_OffersEachTenantsFirstJobOfEachClassOnly()
    {
        var a1 = Units("a", 10);
        var a2 = Units("a", 10);
        var b1 = Units("b", 10);
        var aCritical = Units("a", 10, JobPriority.Critical);
        new[] { a1, a2, b1, aCritical }.ToList().ForEach(_queue.Enqueue);
        var offered = new List<string>();

        Assert.Null(_queue.DequeueNextHead(j => { offered.Add(j.JobId); return false; }));
        Assert.Equal(new[] { aCritical.JobId, a1.JobId, b1.JobId }.Order(), offered.Order());
        Assert.Equal(b1, _queue.DequeueNextHead(j => j.TenantId == "b"));
        Assert.Null(_queue.DequeueNextHead(j => j == a2));
        Assert.Equal(3, _queue.Count);
    }

    [Fact]
    public void IsNextInLine_FollowsEveryChangeOfCountersAndBacklogs()
    {
        // The lowest counter is kept between changes (a round asks of every queued job): each change must be seen.
        var a = Units("a", 100);
        var b = Units("b", 100);
        _queue.Enqueue(a);
        _queue.Enqueue(b);
        Assert.True(_queue.IsNextInLine(a));
        Assert.True(_queue.IsNextInLine(b));

        _queue.Adjust("a", 50);
        Assert.False(_queue.IsNextInLine(a));
        Assert.True(_queue.IsNextInLine(b));

        _queue.Adjust("a", -50);
        Assert.True(_queue.IsNextInLine(a));

        // b no longer waits: a is next whatever its counter.
        Assert.True(_queue.Remove(b.JobId));
        _queue.Adjust("a", 50);
        Assert.True(_queue.IsNextInLine(a));

        // c joins level with a; a, served, passes it.
        var c = Units("c", 100);
        _queue.Enqueue(c);
        Assert.True(_queue.IsNextInLine(c));
        Assert.True(_queue.IsNextInLine(a));
        Assert.Equal(a, _queue.DequeueNext(j => j.TenantId == "a"));
        var a2 = Units("a", 100);
        _queue.Enqueue(a2);
        Assert.False(_queue.IsNextInLine(a2));
        Assert.True(_queue.IsNextInLine(c));
    }

    [Fact]
    public void IsNextInLine_OnlyTheLowestCounterInTheHighestWaitingClass_TiesIncluded()
    {
        _queue.Enqueue(Job("a1", "a", prompt: 100, maxTokens: 0));
        _queue.Enqueue(Job("a2", "a", prompt: 100, maxTokens: 0));
        var served = _queue.DequeueNext(_ => true)!;
        _queue.Enqueue(Job("b1", "b", prompt: 100, maxTokens: 0));

        // b joined level with a (a's counter after a1): both are next; a1, just served, was next at its own counter.
        Assert.True(_queue.IsNextInLine(Job("b1", "b", prompt: 100, maxTokens: 0)));
        Assert.True(_queue.IsNextInLine(Job("a2", "a", prompt: 100, maxTokens: 0)));
        Assert.True(_queue.IsNextInLine(served));

        // Once b is served, a (lower counter now) is next and b is not.
        _queue.DequeueNext(j => j.TenantId == "b");
        _queue.Enqueue(Job("b2", "b", prompt: 100, maxTokens: 0));
        Assert.False(_queue.IsNextInLine(Job("b2", "b", prompt: 100, maxTokens: 0)));

        // A waiting critical job comes before every standard one.
        _queue.Enqueue(Job("c1", "c", prompt: 100, maxTokens: 0, priority: JobPriority.Critical));
        Assert.False(_queue.IsNextInLine(Job("a2", "a", prompt: 100, maxTokens: 0)));
    }
}
