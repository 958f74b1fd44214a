using Microsoft.Extensions.Time.Testing;
using Scheduler.Policies;
using Scheduler.Policies.Placement;
using Scheduler.Policies.Profiles;
using static Scheduler.Tests.Policies.PolicyFixtures;

namespace Scheduler.Tests.Policies.Placement;

public sealed class RateLimitedPlacementTests
{
    private readonly FakeTimeProvider _time = new(T0);

    // A metered endpoint allowing 60,000 prompt-plus-output tokens a minute: 1,000 a second.
    private ReplicaView Metered(string id) => PolicyFixtures.Metered(id, _time);

    private static JobDemand Prompt(string id) => Job(id, prompt: 5_000, maxTokens: 1_000, ttftObjectiveMs: 2_000);

    [Fact]
    public void AdmitWhatFits_AJobOverAMeteredEndpointsTokensPerMinute_IsNeverSentThere_AndWaitsForAGpu()
    {
        // 6,000 tokens a minute (Groq's free tier): a job of 7,446 could never be admitted by the endpoint, however long
        // it waited, and its engine refuses it. The busy L4 is the only replica that can ever run it.
        var dispatcher = Scheduler.Policies.Dispatch.Dispatcher.Create("cost-aware", "weighted-fair", "continuous");
        var lpu = PolicyFixtures.Metered("lpu", _time, tokensPerMinute: 6_000, requestsPerMinute: 30, maxSequences: 16);
        var l4 = Replica("l4", AcceleratorProfiles.L4, maxSequences: 1);
        dispatcher.Replicas["lpu"] = lpu;
        dispatcher.Replicas["l4"] = l4;
        l4.Admit(Job("busy", prompt: 100, maxTokens: 100));
        var big = Job("big", prompt: 7_436, maxTokens: 10, ttftObjectiveMs: 60_000);
        dispatcher.Queue.Enqueue(big);

        Assert.False(lpu.CanEverHold(big));
        Assert.Empty(dispatcher.AdmitWhatFits());
        Assert.Equal(0, lpu.RunningSequences);

        l4.Release("busy");
        Assert.Equal("l4", Assert.Single(dispatcher.AdmitWhatFits()).Replica.ReplicaId);

        // A job within the endpoint's limit still goes there.
        dispatcher.Queue.Enqueue(Job("small", prompt: 1_000, maxTokens: 10, ttftObjectiveMs: 60_000));
        Assert.Equal("lpu", Assert.Single(dispatcher.AdmitWhatFits()).Replica.ReplicaId);
    }

    [Fact]
    public void RateLimitWaitMs_CountsWhatThePlacementSentThere_AndRefillsWithTime()
    {
        var lpu = Metered("lpu");
        Assert.True(lpu.RateLimited);
        Assert.Equal(0, lpu.RateLimitWaitMs(Prompt("a")));

        // 60,000 tokens sent: the minute's worth. The next 6,000 wait 6 s for the bucket to refill at 1,000 a second.
        for (var i = 0; i < 10; i++)
        {
            lpu.Admit(Prompt($"sent-{i}"));
        }

        Assert.Equal(6_000, lpu.RateLimitWaitMs(Prompt("b")), 6);

        // Asking reserves nothing; time does.
        Assert.Equal(6_000, lpu.RateLimitWaitMs(Prompt("b")), 6);
        _time.Advance(TimeSpan.FromSeconds(4));
        Assert.Equal(2_000, lpu.RateLimitWaitMs(Prompt("b")), 6);
        Assert.Equal(0, Replica("gpu", AcceleratorProfiles.A100).RateLimitWaitMs(Prompt("b")));
    }

    [Fact]
    public void PickReplica_MeteredEndpointAtItsRateLimit_LosesTheJobItWouldMakeLate()
    {
        // The LPU is far cheaper than the A100 and, by its step model, fast: it wins while its limits have room. Once
        // the placement has sent it a minute's worth of tokens, a job there would wait 6 s for the limiter, past its 2 s
        // objective, so the A100, which meets it, is chosen.
        var lpu = Metered("lpu");
        var a100 = Replica("a100", AcceleratorProfiles.A100);
        var set = new ReplicaSet { ["lpu"] = lpu, ["a100"] = a100 };
        var placement = new CostAwarePlacement();
        Assert.Equal("lpu", placement.Choose(Prompt("first"), [lpu, a100])?.ReplicaId);
        Assert.Equal("lpu", placement.Choose(Prompt("first"), set)?.ReplicaId);

        for (var i = 0; i < 10; i++)
        {
            lpu.Admit(Prompt($"sent-{i}"));
        }

        Assert.Equal("a100", placement.Choose(Prompt("next"), [lpu, a100])?.ReplicaId);
        Assert.Equal("a100", placement.Choose(Prompt("next"), set)?.ReplicaId);
    }

    [Fact]
    public void PickReplica_TwoMeteredEndpointsAlike_TheIndexTellsTheirLimitsApart()
    {
        // Same profile, slots and KV: without limits one class, whose index offers per running count only the replica
        // with the least prefill pending, "drained" here, whose limiter would hold the job 6 s past its objective. Each
        // rate-limited replica is a class of its own, so "fresh", with room in its limits, is offered and wins.
        var drained = Metered("drained");
        var fresh = Metered("fresh");
        for (var i = 0; i < 10; i++)
        {
            drained.Admit(Prompt($"sent-{i}"));
            drained.PrefillDone($"sent-{i}");
        }

        AddDecodingLoad(fresh, 9);
        fresh.Admit(Job("pending", prompt: 500, maxTokens: 100));
        var set = new ReplicaSet { ["drained"] = drained, ["fresh"] = fresh };

        Assert.Equal("fresh", new CostAwarePlacement().Choose(Prompt("next"), set)?.ReplicaId);
    }
}
