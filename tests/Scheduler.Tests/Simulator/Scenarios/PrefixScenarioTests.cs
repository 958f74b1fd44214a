using Scheduler.Policies.Prefix;
using Scheduler.Policies.Profiles;
using Scheduler.Simulator;
using Scheduler.Simulator.Fleet;
using Scheduler.Simulator.Scenarios;
using Scheduler.Simulator.Workload;

namespace Scheduler.Tests.Simulator.Scenarios;

public sealed class PrefixScenarioTests
{
    // Small enough to run in a second: 120 chats of 5 turns on 4 alike A100s, whose KV caches hold every chat.
    private static readonly PrefixWorkloadSettings s_settings = new()
    {
        Conversations = 120, ConversationsPerSecond = 4, Turns = 5, ThinkSeconds = 8, Seed = 3,
    };

    private static readonly string[] s_loadOnly = ["round-robin", "least-outstanding", "power-of-two", "queue-kv"];

    private static readonly FleetSpec s_fleet = SimulationTests.Fleet(("A100", 4, PricingMode.Hourly));

    [Fact]
    public void MultiTurn_PrefixAwarePlacement_NearsTheOracle_AndBeatsLoadOnlyOnTtft()
    {
        var workload = PrefixWorkloads.ToWorkload("multi-turn", PrefixWorkloads.MultiTurn(s_settings));

        var outcomes = PrefixScenario.Run(s_fleet, [workload], seed: 1).ToDictionary(o => o.Placement);

        var oracle = outcomes["prefix-only"].OracleHitRate;
        Assert.InRange(oracle, 0.6, 0.8); // each of 5 turns resends the last; the first turn of each chat is all new
        Assert.All(outcomes.Values, o => Assert.Equal(0, o.Unserved));
        Assert.True(outcomes["prefix-only"].OfOracle >= 0.9, $"prefix-only reached {outcomes["prefix-only"].OfOracle:P1} of the oracle");
        Assert.True(outcomes["cost-aware"].HitRate > outcomes["round-robin"].HitRate, $"cost-aware {outcomes["cost-aware"].HitRate:P1}, round-robin {outcomes["round-robin"].HitRate:P1}");
        Assert.True(outcomes["round-robin"].HitRate < outcomes["prefix-only"].HitRate - 0.1, $"round-robin reached {outcomes["round-robin"].OfOracle:P1} of the oracle");
        var bestLoadOnly = s_loadOnly.Min(p => outcomes[p].TtftP90Ms);

        // The losses account for the gap to the oracle (judged at admission, the oracle at arrival: nearly the same
        // order here), and where a replica with room holds the prefix, prefix-only takes it — but for a job admitted in
        // the step in which that replica's engine cached it: the placement hears of a prefix when the step reports the
        // prefill done, as the node's step report tells it, so those few go elsewhere.
        Assert.All(outcomes.Values, o => Assert.InRange(o.OracleHitRate - o.LostEvicted - o.LostPrefilling - o.LostHolderFull - o.LostElsewhere - o.HitRate, -0.01, 0.01));
        Assert.InRange(outcomes["prefix-only"].LostElsewhere, 0, 0.005);
        Assert.True(outcomes["round-robin"].LostElsewhere > 0.1, $"round-robin placed {outcomes["round-robin"].LostElsewhere:P1} elsewhere");
        Assert.True(outcomes["prefix-only"].TtftP90Ms < bestLoadOnly, $"prefix-only p90 {outcomes["prefix-only"].TtftP90Ms} ms, best load-only {bestLoadOnly} ms");
    }

    [Fact]
    public void Run_ASessionReachesOnlyAPlacementThatPlacesBySession()
    {
        // Cheap L4s whose KV keeps few idle chats, and one A100: where a chat's turns go depends on its session for
        // cost-aware placement only; a load-only baseline decides exactly as without sessions.
        var fleet = SimulationTests.Fleet(("L4", 4, PricingMode.Hourly), ("A100", 1, PricingMode.Hourly));
        var rows = PrefixWorkloads.MultiTurn(s_settings);
        var withSessions = PrefixWorkloads.ToWorkload("multi-turn", rows);
        var without = PrefixWorkloads.ToWorkload("multi-turn", rows, sessions: false);
        Assert.All(withSessions.Requests, r => Assert.StartsWith("chat-", r.SessionId));
        Assert.All(without.Requests, r => Assert.Null(r.SessionId));

        List<(string, int, double)> Served(Workload workload, string placement) =>
            [.. new Simulation(fleet, workload, PolicyMatrix.Default with { Placement = placement }, seed: 1).Run().Finished
                .Select(s => (s.Request.Id, s.CachedPromptTokens, s.TtftMs)).OrderBy(s => s.Id, StringComparer.Ordinal)];

        Assert.Equal(Served(without, "round-robin"), Served(withSessions, "round-robin"));
        Assert.NotEqual(Served(without, "cost-aware"), Served(withSessions, "cost-aware"));
        Assert.False(PrefixWorkloads.NamesSessions("system-prompt")); // its rows name tenants, not conversations
    }

    [Fact]
    public void IdealTtftP90Ms_IsTheOraclesUncachedPrefill_AloneOnTheFastestAccelerator()
    {
        // Twenty requests resend one 3-block prompt: the oracle prefills the first whole, the other nineteen all but
        // their cached 1,536 tokens. Alone on an H100 (faster than an L4), 64 tokens: one prefill step.
        var blocks = PromptBlocks.FromBlockIds([1, 2, 3]);
        var requests = Enumerable.Range(0, 20).Select(i => new SimRequest($"r{i}", "t", i * 1_000.0, 1_600, 20, 1_000, blocks)).ToList();
        AcceleratorProfile[] fleet = [AcceleratorProfiles.L4, AcceleratorProfiles.H100];

        var ideal = PrefixWorkloads.IdealTtftP90Ms(requests, fleet);

        Assert.Equal(AcceleratorProfiles.H100.StepMs(0, 64), ideal, 9);
        Assert.Equal(AcceleratorProfiles.L4.StepMs(0, 64), PrefixWorkloads.IdealTtftP90Ms(requests, [AcceleratorProfiles.L4]), 9);

        // Without a shared prefix every prompt is prefilled whole, a step budget at a time.
        var plain = requests.Select(r => r with { Blocks = null }).ToList();
        var budget = AcceleratorProfiles.H100.StepTokenBudget;
        var whole = AcceleratorProfiles.H100.StepMs(0, Math.Min(1_600, budget)) + (1_600 > budget ? AcceleratorProfiles.H100.StepMs(0, 1_600 - budget) : 0);
        Assert.Equal(whole, PrefixWorkloads.IdealTtftP90Ms(plain, fleet), 9);
    }

    [Fact]
    public void Run_PrefixFreeWorkload_CachesNothing()
    {
        var requests = Enumerable.Range(0, 50).Select(i => new SimRequest($"r{i}", "t", i * 100.0, 1_500, 20, TtftObjective.For(1_500))).ToList();
        var run = new Simulation(s_fleet, new Workload("plain", requests, new Dictionary<string, double> { ["t"] = 1 }), PolicyMatrix.Default, seed: 1).Run();

        Assert.Equal(0, PrefixWorkloads.OracleHitRate(requests));
        Assert.All(run.Finished, s => Assert.Equal(0, s.CachedPromptTokens));
        Assert.All(run.Replicas, r => Assert.Equal(0, r.CachedPromptTokens));
        Assert.Equal((0.0, 0.0, 0.0), (run.PrefixLoss.Evicted, run.PrefixLoss.HolderFull, run.PrefixLoss.PlacedElsewhere));
    }

    [Fact]
    public void Workloads_OfAnotherSeed_ArriveElsewhere_WithTheSameShape()
    {
        // --prefix-seed: another draw of the same workload, to see how far one run's figures are from another's.
        var seven = PrefixWorkloads.MultiTurn(s_settings);
        var again = PrefixWorkloads.MultiTurn(s_settings);
        var other = PrefixWorkloads.MultiTurn(s_settings with { Seed = 4 });

        Assert.Equal(seven.Select(r => r.TimestampMs), again.Select(r => r.TimestampMs));
        Assert.NotEqual(seven.Select(r => r.TimestampMs), other.Select(r => r.TimestampMs));
        Assert.Equal(seven.Select(r => r.InputLength).Order(), other.Select(r => r.InputLength).Order());
        Assert.Equal(seven.Count(r => r.HashIds.Length > 0), other.Count(r => r.HashIds.Length > 0));
    }

    [Fact]
    public void Workloads_ResendTheirPrefixes_AsStated()
    {
        var chat = PrefixWorkloads.MultiTurn(s_settings).Where(r => r.SessionId == "chat-0").ToList();
        Assert.Equal(5, chat.Count);
        for (var turn = 1; turn < chat.Count; turn++)
        {
            Assert.Equal(chat[turn - 1].InputLength + s_settings.AnswerTokens + s_settings.UserMessageTokens, chat[turn].InputLength);
            Assert.Equal(chat[turn - 1].HashIds, chat[turn].HashIds.Take(chat[turn - 1].HashIds.Length));
        }

        var settings = new PrefixWorkloadSettings { SystemPromptRequests = 200 };
        var system = PrefixWorkloads.SystemPrompt(settings);
        var systemBlocks = settings.SystemPromptTokens / 512;
        Assert.All(system.GroupBy(r => r.SessionId), tenant =>
            Assert.Single(tenant.Select(r => string.Join(",", r.HashIds.Take(systemBlocks))).Distinct()));
        Assert.Equal(settings.SystemPromptTenants, system.Select(r => r.HashIds[0]).Distinct().Count());

        var agent = PrefixWorkloads.Agent(new PrefixWorkloadSettings { Agents = 2 });
        Assert.Equal(2 * 12, agent.Count);
        Assert.All(agent, r => Assert.True(r.InputLength + r.OutputLength <= 8_192));
    }
}
