using Scheduler.Policies.Dispatch;
using Scheduler.Policies.Placement;
using Scheduler.Policies.Profiles;
using static Scheduler.Tests.Policies.PolicyFixtures;

namespace Scheduler.Tests.Policies.Dispatch;

/// <summary>A placement that returns null holds the job: it stays queued, first in fair order, uncharged.</summary>
public sealed class DispatcherHoldTests
{
    [Fact]
    public void AdmitWhatFits_SaturatedFleetAndAHopelessObjective_HoldsTheJobQueued_UnchargedAndFirst()
    {
        var dispatcher = Dispatcher.Create("cost-aware", "weighted-fair", "continuous");
        var h100 = Replica("h100", AcceleratorProfiles.H100);
        dispatcher.Replicas["h100"] = h100;
        h100.Admit(Job("backlog", prompt: 4_000, maxTokens: 10)); // two full steps of prefill still pending

        dispatcher.Queue.Enqueue(Job("late", tenant: "a", prompt: 500, ttftObjectiveMs: 1));
        dispatcher.Queue.Enqueue(Job("other", tenant: "b", prompt: 500, ttftObjectiveMs: 1));

        Assert.Empty(dispatcher.AdmitWhatFits());
        Assert.Equal(2, dispatcher.Queue.Count);

        // Once the prefill completes, the held job goes first: tenant a was refunded, so it is still first in fair order.
        h100.PrefillDone("backlog");
        var admitted = dispatcher.AdmitWhatFits();

        Assert.Equal(["late", "other"], admitted.Select(a => a.Job.JobId));
    }

    [Fact]
    public void CostAware_NoReplicaMeetsObjective_PicksFastestUnlessItIsSaturatedWithPrefill()
    {
        var policy = Scheduler.Policies.SchedulingPolicies.CreatePlacement("cost-aware");
        var h100 = Replica("h100", AcceleratorProfiles.H100);
        var l4 = Replica("l4", AcceleratorProfiles.L4);
        var job = Job("j", prompt: 1_000, ttftObjectiveMs: 1);

        Assert.Equal("h100", policy.Choose(job, [l4, h100])?.ReplicaId);

        h100.Admit(Job("pending", prompt: AcceleratorProfiles.H100.StepTokenBudget, maxTokens: 10));
        Assert.True(ReplicaPrediction.TtftMs(h100, job) < ReplicaPrediction.TtftMs(l4, job));
        Assert.Null(policy.Choose(job, [l4, h100]));

        // Still met somewhere: the saturation rule does not apply.
        Assert.NotNull(policy.Choose(job with { TtftObjectiveMs = 10_000 }, [l4, h100]));
    }
}
