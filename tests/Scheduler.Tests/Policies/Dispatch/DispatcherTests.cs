using Scheduler.Policies;
using Scheduler.Policies.Dispatch;
using Scheduler.Policies.Placement;
using Scheduler.Policies.Profiles;
using static Scheduler.Tests.Policies.PolicyFixtures;

namespace Scheduler.Tests.Policies.Dispatch;

public sealed class DispatcherTests
{
    private static Dispatcher Create(string batching = "continuous") => Dispatcher.Create("cost-aware", "weighted-fair", batching);

    [Fact]
    public void AdmitWhatFits_NeverPastSlotsOrKv_AcrossRandomRounds()
    {
        var dispatcher = Create();
        dispatcher.Replicas["a"] = Replica("a", AcceleratorProfiles.L4, maxSequences: 4, kvCapacityTokens: 3_000);
        dispatcher.Replicas["b"] = Replica("b", AcceleratorProfiles.A100, maxSequences: 3, kvCapacityTokens: 2_000);
        var random = new Random(42);
        var next = 0;
        for (var round = 0; round < 200; round++)
        {
            for (var i = random.Next(4); i > 0; i--)
            {
                dispatcher.Queue.Enqueue(Job($"j{next++}", tenant: $"t{random.Next(3)}", prompt: random.Next(10, 900), maxTokens: random.Next(1, 400)));
            }

            foreach (var admission in dispatcher.AdmitWhatFits())
            {
                Assert.True(admission.RunningSequencesBefore < admission.Replica.MaxSequences);
            }

            foreach (var replica in dispatcher.Replicas.Values)
            {
                Assert.InRange(replica.RunningSequences, 0, replica.MaxSequences);
                Assert.InRange(replica.ReservedKvTokens, 0, replica.KvCapacityTokens);

                // Some running sequence finishes now and then.
                if (replica.RunningSequences > 0 && random.Next(2) == 0)
                {
                    replica.Release(replica.RunningJobIds.First());
                }
            }
        }

        Assert.True(next > 100);
    }

    [Fact]
    public void AdmitWhatFits_AJobLongerThanAReplicasContextPerSequence_GoesWhereItFits_AndWaitsRatherThanFailThere()
    {
        // A llama.cpp L4 replica gives each of its 8 slots 1,024 tokens of context: its KV cache holds 8,192, but a
        // 3,000-token job cannot run there however idle it is. Cheaper, it would win the job; the H100 takes it.
        var dispatcher = Create();
        var l4 = new ReplicaView("l4", "node-l4", "acc-l4", AcceleratorProfiles.L4, 8, 8_192, maxContextTokens: 1_024);
        var h100 = Replica("h100", AcceleratorProfiles.H100, maxSequences: 1);
        dispatcher.Replicas["l4"] = l4;
        dispatcher.Replicas["h100"] = h100;
        var small = Job("small", prompt: 500, maxTokens: 100, ttftObjectiveMs: 60_000);
        var big = Job("big", prompt: 2_900, maxTokens: 100, ttftObjectiveMs: 60_000);
        Assert.False(l4.CanEverHold(big));

        dispatcher.Queue.Enqueue(small);
        Assert.Equal("l4", Assert.Single(dispatcher.AdmitWhatFits()).Replica.ReplicaId);

        dispatcher.Queue.Enqueue(big);
        Assert.Equal("h100", Assert.Single(dispatcher.AdmitWhatFits()).Replica.ReplicaId);

        // With the H100 full, it waits for it rather than go to the L4, whose engine would fail it.
        dispatcher.Queue.Enqueue(Job("big-2", prompt: 2_900, maxTokens: 100, ttftObjectiveMs: 60_000));
        Assert.Empty(dispatcher.AdmitWhatFits());
        Assert.Equal(1, l4.RunningSequences);
    }

    [Fact]
    public void AdmitWhatFits_AJobGivenAsTokenIds_NeverGoesToAReplicaTakingOnlyTextOrMessages()
    {
        // A cheap chat-only endpoint beside an L4: a text job may go to either (the endpoint is cheaper), a job given as
        // token ids only to the L4, and waits for it when it is full rather than go where it can only fail.
        var dispatcher = Create();
        var chatOnly = new ReplicaView("lpu", "node-lpu", "acc-lpu", AcceleratorProfiles.Lpu, 16, AcceleratorProfiles.Lpu.KvCapacityTokens,
            acceptedForms: PromptForms.Text | PromptForms.Messages);
        var l4 = Replica("l4", AcceleratorProfiles.L4, maxSequences: 1);
        dispatcher.Replicas["lpu"] = chatOnly;
        dispatcher.Replicas["l4"] = l4;
        JobDemand Ids(string id) => Job(id, prompt: 500, maxTokens: 10, ttftObjectiveMs: 60_000) with { Form = PromptForms.TokenIds };

        dispatcher.Queue.Enqueue(Ids("ids-1"));
        Assert.Equal("l4", Assert.Single(dispatcher.AdmitWhatFits()).Replica.ReplicaId);

        dispatcher.Queue.Enqueue(Ids("ids-2"));
        Assert.Empty(dispatcher.AdmitWhatFits());

        dispatcher.Queue.Enqueue(Job("text", prompt: 500, maxTokens: 10, ttftObjectiveMs: 60_000));
        Assert.Equal("lpu", Assert.Single(dispatcher.AdmitWhatFits()).Replica.ReplicaId);
        Assert.Equal(1, dispatcher.Queue.Count);
    }

    [Fact]
    public void AdmitWhatFits_WorkConserving_SmallJobFillsRoomABigOneCannot()
    {
        var dispatcher = Create();
        dispatcher.Replicas["a"] = Replica("a", AcceleratorProfiles.H100, maxSequences: 4, kvCapacityTokens: 1_000);
        dispatcher.Queue.Enqueue(Job("big", prompt: 900, maxTokens: 200));
        dispatcher.Queue.Enqueue(Job("small", prompt: 100, maxTokens: 50));

        var admitted = dispatcher.AdmitWhatFits();

        Assert.Equal(["small"], admitted.Select(a => a.Job.JobId));
        Assert.Equal(1, dispatcher.Queue.Count);
    }

    [Fact]
    public void AdmitWhatFits_Continuous_JoinsARunningBatch_RequestLevel_WaitsForItToDrain()
    {
        foreach (var (batching, expectAdmitted) in new[] { ("continuous", true), ("request-level", false) })
        {
            var dispatcher = Create(batching);
            var replica = Replica("a", AcceleratorProfiles.H100, maxSequences: 8, kvCapacityTokens: 100_000);
            dispatcher.Replicas["a"] = replica;
            dispatcher.Queue.Enqueue(Job("first"));
            Assert.Single(dispatcher.AdmitWhatFits());

            dispatcher.Queue.Enqueue(Job("second"));
            var admitted = dispatcher.AdmitWhatFits();

            Assert.Equal(expectAdmitted, admitted.Count == 1);
            if (expectAdmitted)
            {
                Assert.Equal(1, admitted[0].RunningSequencesBefore);
            }
            else
            {
                replica.Release("first");
                Assert.Equal(["second"], dispatcher.AdmitWhatFits().Select(a => a.Job.JobId));
            }
        }
    }

    [Fact]
    public void AdmitWhatFits_SkipsUnschedulableReplicas()
    {
        var dispatcher = Create();
        var off = Replica("off", AcceleratorProfiles.Lpu);
        off.Schedulable = false;
        dispatcher.Replicas["off"] = off;
        dispatcher.Replicas["on"] = Replica("on", AcceleratorProfiles.H100);
        dispatcher.Queue.Enqueue(Job("j"));

        Assert.Equal("on", Assert.Single(dispatcher.AdmitWhatFits()).Replica.ReplicaId);
    }

    /// <summary>The cost-aware policy without its index: the dispatcher hands it every candidate.</summary>
    private sealed class ScanEveryCandidate(IPlacementPolicy inner) : IPlacementPolicy
    {
        public string Name => inner.Name;

        public ReplicaView? Choose(JobDemand job, IReadOnlyList<ReplicaView> candidates) => inner.Choose(job, candidates);
    }

    [Theory]
    [InlineData("continuous", 1)]
    [InlineData("continuous", 2)]
    [InlineData("continuous", 3)]
    [InlineData("request-level", 1)]
    [InlineData("request-level", 2)]
    [InlineData("request-level", 3)]
    public void AdmitWhatFits_IndexedCostAware_AdmitsExactlyAsAScanOfEveryCandidate(string batching, int seed)
    {
        // Twin fleets and queues under the same random arrivals, finishes, first tokens and cordons.
        var fleetRandom = new Random(seed);
        var replicaCount = fleetRandom.Next(1, 60);
        var indexed = Dispatcher.Create("cost-aware", "weighted-fair", batching);
        var scanning = new Dispatcher(
            SchedulingPolicies.CreateFairQueue("weighted-fair"), new ScanEveryCandidate(SchedulingPolicies.CreatePlacement("cost-aware")), SchedulingPolicies.CreateBatching(batching));
        var twins = RandomFleet.Replicas(new Random(seed), replicaCount).Zip(RandomFleet.Replicas(new Random(seed), replicaCount)).ToArray();
        foreach (var (a, b) in twins)
        {
            indexed.Replicas[a.ReplicaId] = a;
            scanning.Replicas[b.ReplicaId] = b;
        }

        var random = new Random(seed * 7919);
        var running = new List<(int Replica, JobDemand Job)>();
        var admissions = 0;
        for (var round = 0; round < 1_500; round++)
        {
            for (var i = random.Next(4); i > 0; i--)
            {
                var job = RandomFleet.Job(random, $"j{round}-{i}");
                indexed.Queue.Enqueue(job);
                scanning.Queue.Enqueue(job);
            }

            var fromIndex = indexed.AdmitWhatFits();
            var fromScan = scanning.AdmitWhatFits();
            Assert.Equal(Summary(fromScan), Summary(fromIndex));
            admissions += fromIndex.Count;
            foreach (var admission in fromIndex)
            {
                running.Add((Array.FindIndex(twins, t => t.First == admission.Replica), admission.Job));
            }

            for (var events = random.Next(4); events > 0 && running.Count > 0; events--)
            {
                var i = random.Next(running.Count);
                var (replica, job) = running[i];
                if (random.Next(3) == 0)
                {
                    twins[replica].First.PrefillDone(job.JobId);
                    twins[replica].Second.PrefillDone(job.JobId);
                }
                else
                {
                    Assert.True(twins[replica].First.Release(job.JobId));
                    Assert.True(twins[replica].Second.Release(job.JobId));
                    running.RemoveAt(i);
                }
            }

            if (random.Next(30) == 0)
            {
                var (a, b) = twins[random.Next(twins.Length)];
                a.Schedulable = b.Schedulable = !a.Schedulable;
            }
        }

        Assert.True(admissions > 300, $"only {admissions} admissions");

        static string[] Summary(IReadOnlyList<Scheduler.Policies.Dispatch.Admission> admissions) =>
            [.. admissions.Select(a => $"{a.Job.JobId}@{a.Replica.ReplicaId} joined {a.RunningSequencesBefore}")];
    }
}
