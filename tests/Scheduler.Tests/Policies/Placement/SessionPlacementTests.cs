using Scheduler.Policies;
using Scheduler.Policies.Placement;
using Scheduler.Policies.Prefix;
using Scheduler.Policies.Profiles;
using static Scheduler.Tests.Policies.PolicyFixtures;

namespace Scheduler.Tests.Policies.Placement;

public sealed class SessionPlacementTests
{
    // A conversation's turn: 4,000 prompt tokens and a 200-token answer, which the next turn resends.
    private static JobDemand Turn(string id, string? session) =>
        Job(id, prompt: 4_000, maxTokens: 200, ttftObjectiveMs: 5_000) with { SessionId = session };

    [Fact]
    public void SessionLossCostUsd_IsThePackedShareOfTheLaterTurnsRecompute_AtMostAllOfIt()
    {
        var job = Turn("t", "chat");
        var recompute = ReplicaPrediction.SessionLossWeight * ReplicaPrediction.RecomputeCostUsd(AcceleratorProfiles.L4, 4_200);

        // 3 of 10 slots, 3 × 4,200 of 100,000 KV tokens: the slots are the fuller share.
        Assert.Equal(0.3 * recompute, ReplicaPrediction.SessionLossCostUsd(AcceleratorProfiles.L4, 10, 100_000, running: 2, job), 12);
        // 3 × 4,200 of 20,000 KV tokens: the KV is.
        Assert.Equal(0.63 * recompute, ReplicaPrediction.SessionLossCostUsd(AcceleratorProfiles.L4, 10, 20_000, running: 2, job), 12);
        // Packed past its room: the whole recompute, no more.
        Assert.Equal(recompute, ReplicaPrediction.SessionLossCostUsd(AcceleratorProfiles.L4, 10, 20_000, running: 9, job), 12);
    }

    [Fact]
    public void PickReplica_SessionTurn_GoesWhereItsContextSurvives_APlainJobWhereItIsCheapest()
    {
        // The L4 with 13 running would reserve 14 × 4,200 of its 60,000 KV tokens with the turn: it keeps an idle
        // conversation's blocks only briefly and has no room for its next turn. The A100 (460,000) keeps them. By the batch
        // share alone the L4 is the cheaper; with the next turn's expected recompute, the A100 is. Waiting is not priced
        // here, so that only the session's term tells the two jobs apart (priced, the L4's slower first token alone would
        // send the plain job to the A100 too).
        var l4 = Replica("l4", AcceleratorProfiles.L4);
        var a100 = Replica("a100", AcceleratorProfiles.A100);
        AddDecodingLoad(l4, 13);
        AddDecodingLoad(a100, 16);
        var set = new ReplicaSet { ["l4"] = l4, ["a100"] = a100 };
        var placement = new CostAwarePlacement(new PlacementSettings { WaitCostUsdPerSecond = 0 });

        Assert.Equal("l4", placement.Choose(Turn("plain", session: null), [l4, a100])?.ReplicaId);
        Assert.Equal("l4", placement.Choose(Turn("plain", session: null), set)?.ReplicaId);
        Assert.Equal("a100", placement.Choose(Turn("chat-1", session: "chat"), [l4, a100])?.ReplicaId);
        Assert.Equal("a100", placement.Choose(Turn("chat-1", session: "chat"), set)?.ReplicaId);
    }

    [Fact]
    public void PickReplica_SessionTurn_TheIndexTellsApartReplicasOfOneProfileWithLessKv()
    {
        // Two L4s alike but for KV capacity, each running 4: "small" has less prefill pending, so the index would offer it
        // for both were they one class; its 20,000 KV tokens would lose the conversation, "big"'s 60,000 keep it.
        var small = Replica("small", AcceleratorProfiles.L4, kvCapacityTokens: 20_000);
        var big = Replica("big", AcceleratorProfiles.L4, kvCapacityTokens: 60_000);
        AddDecodingLoad(small, 4);
        AddDecodingLoad(big, 3);
        big.Admit(Job("pending", prompt: 500, maxTokens: 100));
        var set = new ReplicaSet { ["small"] = small, ["big"] = big };
        // The session's loss term alone: with the session price, "big"'s pending prefill would set it aside.
        var placement = new CostAwarePlacement(new PlacementSettings { SessionWaitCostUsdPerSecond = 0 });

        Assert.Equal("big", placement.Choose(Turn("chat-1", session: "chat"), [small, big])?.ReplicaId);
        Assert.Equal("big", placement.Choose(Turn("chat-1", session: "chat"), set)?.ReplicaId);
    }

    [Fact]
    public void PlacesBySession_OnlyCostAware()
    {
        Assert.True(SchedulingPolicies.CreatePlacement(CostAwarePlacement.PolicyName).PlacesBySession);
        Assert.All(
            ["round-robin", "least-outstanding", "power-of-two", "queue-kv", "prefix-only"],
            name => Assert.False(SchedulingPolicies.CreatePlacement(name).PlacesBySession));
    }

    // A conversation's first turn: 2,048 prompt tokens, nothing cached anywhere, a 200-token answer.
    private static JobDemand FirstTurn(string session) =>
        Job("first-" + session, prompt: 2_048, maxTokens: 200, ttftObjectiveMs: 1_012) with { SessionId = session };

    // An idle H100 and an A100 running 16: by the batch share the A100 is far cheaper for any job.
    private static (ReplicaView H100, ReplicaView A100) IdleH100AndBusyA100()
    {
        var h100 = Replica("h100", AcceleratorProfiles.H100);
        var a100 = Replica("a100", AcceleratorProfiles.A100);
        AddDecodingLoad(a100, 16);
        return (h100, a100);
    }

    [Fact]
    public void PickReplica_SendsNewConversationToFastReplicaWhenItsKvHoldsTheLiveSessions()
    {
        // Priced at $0.10 a second, the first turn's 180 ms on the A100 and its next turn's 43 ms (25 ms on the H100)
        // outweigh the idle H100's whole-accelerator share.
        var (h100, a100) = IdleH100AndBusyA100();
        h100.LiveSessionTokens = 400_000;
        var set = new ReplicaSet { ["h100"] = h100, ["a100"] = a100 };
        var placement = new CostAwarePlacement(new PlacementSettings { SessionWaitCostUsdPerSecond = 0.1 });

        Assert.Equal("h100", placement.Choose(FirstTurn("chat"), [h100, a100])?.ReplicaId);
        Assert.Equal("h100", placement.Choose(FirstTurn("chat"), set)?.ReplicaId);
        // A job without a session is priced as before: the A100's share.
        Assert.Equal("a100", placement.Choose(FirstTurn("chat") with { SessionId = null }, set)?.ReplicaId);
    }

    [Fact]
    public void PickReplica_NewConversation_LeavesAFastReplicaWhoseKvTheLiveSessionsFill()
    {
        // The H100's recently placed conversations hold 459,000 of its 460,000 KV tokens: a new one would evict a
        // context about to come back, so it goes to the A100, which meets the objective and keeps it.
        var (h100, a100) = IdleH100AndBusyA100();
        h100.LiveSessionTokens = 459_000;
        var set = new ReplicaSet { ["h100"] = h100, ["a100"] = a100 };
        var placement = new CostAwarePlacement(new PlacementSettings { SessionWaitCostUsdPerSecond = 0.1 });

        Assert.Equal("a100", placement.Choose(FirstTurn("chat"), [h100, a100])?.ReplicaId);
        Assert.Equal("a100", placement.Choose(FirstTurn("chat"), set)?.ReplicaId);
    }

    [Fact]
    public void PickReplica_PricesASessionsLaterTurnsOnlyWhileTheFastReplicasHaveHeadroom()
    {
        // Idle, the H100 takes the new conversation (as above). With a prompt's prefill pending there, the price would
        // queue the turn behind work the fleet needs done: it goes to the A100, which has none pending, and is priced
        // there as a session's turn still. (Priced wherever it meets the objective, the H100's 58 ms beat the A100's 180.)
        var (h100, a100) = IdleH100AndBusyA100();
        var set = new ReplicaSet { ["h100"] = h100, ["a100"] = a100 };
        var placement = new CostAwarePlacement(new PlacementSettings { SessionWaitCostUsdPerSecond = 0.3 });
        Assert.Equal("h100", placement.Choose(FirstTurn("chat"), set)?.ReplicaId);

        h100.Admit(Job("pending", prompt: 500, maxTokens: 100));

        Assert.Equal("a100", placement.Choose(FirstTurn("chat"), [h100, a100])?.ReplicaId);
        Assert.Equal("a100", placement.Choose(FirstTurn("chat"), set)?.ReplicaId);
    }

    [Fact]
    public void PickReplica_SessionPrice_NoReplicaWithHeadroom_PlacesTheTurnAsAnyOther()
    {
        // Prefill pending on both: the session's price is set aside, and the turn goes where the same job without the
        // price goes, the A100's cheap share, not to the faster H100.
        var (h100, a100) = IdleH100AndBusyA100();
        h100.Admit(Job("pending-h100", prompt: 500, maxTokens: 100));
        a100.Admit(Job("pending-a100", prompt: 500, maxTokens: 100));
        var set = new ReplicaSet { ["h100"] = h100, ["a100"] = a100 };
        var priced = new CostAwarePlacement(new PlacementSettings { SessionWaitCostUsdPerSecond = 0.3 });
        var unpriced = new CostAwarePlacement(new PlacementSettings { SessionWaitCostUsdPerSecond = 0 });

        Assert.Equal("a100", unpriced.Choose(FirstTurn("chat"), set)?.ReplicaId);
        Assert.Equal("a100", priced.Choose(FirstTurn("chat"), [h100, a100])?.ReplicaId);
        Assert.Equal("a100", priced.Choose(FirstTurn("chat"), set)?.ReplicaId);
    }

    [Fact]
    public void PickReplica_SessionPrice_KeepsATurnOnItsHolder_ThoughAFasterReplicaIsIdle()
    {
        // The conversation's 4,096-token context is cached on an L4 running 10, with nothing pending: its turn and the
        // next are slow there (about 130 and 165 ms against the idle H100's 82 and 25), which at $1 a second would move
        // the turn to the H100 and recompute the context there. The price decides only where it recomputes nothing.
        var blocks = PromptBlocks.FromBlockIds([1, 2, 3, 4, 5, 6, 7, 8])!;
        var l4 = Replica("l4", AcceleratorProfiles.L4);
        var h100 = Replica("h100", AcceleratorProfiles.H100);
        var set = new ReplicaSet { ["l4"] = l4, ["h100"] = h100 };
        AddDecodingLoad(l4, 10);
        var earlier = Job("chat-1", prompt: 4_096, maxTokens: 200, ttftObjectiveMs: 5_000) with { SessionId = "chat", Blocks = blocks };
        l4.Admit(earlier);
        l4.PrefillDone(earlier.JobId);
        l4.Release(earlier.JobId);
        var turn = earlier with { JobId = "chat-2" };
        var placement = new CostAwarePlacement(new PlacementSettings { SessionWaitCostUsdPerSecond = 1 });

        Assert.Equal(4_095, l4.CachedPromptTokens(turn)); // all but the last token, which is always prefilled
        Assert.Equal("l4", placement.Choose(turn, [l4, h100])?.ReplicaId);
        Assert.Equal("l4", placement.Choose(turn, set)?.ReplicaId);
    }

    [Fact]
    public void PickReplica_SessionWaitUnpriced_ANewConversationGoesWhereItsShareIsCheapest_WhateverTheKvHolds()
    {
        var (h100, a100) = IdleH100AndBusyA100();
        var set = new ReplicaSet { ["h100"] = h100, ["a100"] = a100 };
        a100.LiveSessionTokens = 460_000;
        var unpriced = new CostAwarePlacement(new PlacementSettings { SessionWaitCostUsdPerSecond = 0 });

        Assert.Equal("a100", unpriced.Choose(FirstTurn("chat"), [h100, a100])?.ReplicaId);
        Assert.Equal("a100", unpriced.Choose(FirstTurn("chat"), set)?.ReplicaId);
    }

    [Theory]
    [InlineData(-0.001)]
    [InlineData(1.5)]
    [InlineData(double.NaN)]
    public void PlacementSettings_ASessionWaitPriceOutOfRange_IsRefusedNamingIt(double price)
    {
        var refused = Assert.Throws<ArgumentOutOfRangeException>(() => new PlacementSettings { SessionWaitCostUsdPerSecond = price });

        Assert.Equal(nameof(PlacementSettings.SessionWaitCostUsdPerSecond), refused.ParamName);
    }
}
