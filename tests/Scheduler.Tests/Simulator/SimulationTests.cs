using Scheduler.Simulator;
using Scheduler.Simulator.Engine;
using Scheduler.Simulator.Fleet;
using Scheduler.Simulator.Metrics;
using Scheduler.Simulator.Workload;

namespace Scheduler.Tests.Simulator;

public sealed class SimulationTests
{
    private const double Tolerance = 1e-9;

    // H100: step = 10.6 + 0.075·decoding ms, + prefill at 57,000 tok/s; $12.29/h.
    private const double H100PrefillMsPerToken = 1000.0 / 57_000;
    private static readonly PolicyChoice s_continuous = new("cost-aware", "weighted-fair", "continuous");

    [Fact]
    public void Run_OneRequestOnOneH100_GivesHandComputedTtftTpotAndCost()
    {
        // Step 1 prefills all 1,000 prompt tokens and yields token 1; steps 2 and 3 decode one sequence each.
        var result = Run(Fleet(("H100", 1, PricingMode.Hourly)), s_continuous, Request("a", 0, prompt: 1_000, output: 3));

        var step1 = 10.6 + (1_000 * H100PrefillMsPerToken);
        var decode = 10.6 + 0.075;
        var a = Assert.Single(result.Finished);
        Assert.Equal(step1, a.TtftMs, Tolerance);
        Assert.Equal(step1 + (2 * decode), a.FinishedMs, Tolerance);
        Assert.Equal(decode, a.TpotMs, Tolerance);

        var summary = result.Summarize();
        Assert.Equal(1_000, summary.InputTokens);
        Assert.Equal(3, summary.OutputTokens);
        Assert.Equal(12.29 * (step1 + (2 * decode)) / 1000 / 3600, summary.CostUsd, Tolerance);
        Assert.Equal(1.0, summary.Attainment); // objective 500 + 0.25 × 1,000 = 750 ms
        Assert.Equal(3, result.Replicas[0].Steps);
        Assert.Equal(1.0, summary.UtilisationByProduct["H100"], Tolerance);
    }

    [Fact]
    public void Run_MeteredLpu_CostsTokensAtItsPrices()
    {
        var result = Run(Fleet(("LPU", 1, PricingMode.Metered)), s_continuous, Request("a", 0, prompt: 1_000, output: 3));

        Assert.Equal(((1_000 * 0.05) + (3 * 0.08)) / 1e6, result.Summarize().CostUsd, Tolerance);
        Assert.Equal(0, result.Summarize().EnergyJoules);
    }

    [Fact]
    public void Run_Continuous_SecondRequestJoinsTheNextStep_RequestLevel_WaitsForTheBatchToDrain()
    {
        var fleet = Fleet(("H100", 1, PricingMode.Hourly));
        SimRequest[] requests = [Request("a", 0, prompt: 1_000, output: 3), Request("b", 5, prompt: 500, output: 2)];
        var step1 = 10.6 + (1_000 * H100PrefillMsPerToken);
        var decodeOne = 10.6 + 0.075;

        // Continuous: b arrives during step 1 and is prefilled in step 2, alongside a's decode.
        var continuous = Run(fleet, s_continuous, requests).Finished.ToDictionary(s => s.Request.Id);
        var step2 = decodeOne + (500 * H100PrefillMsPerToken);
        Assert.Equal(step1 + step2 - 5, continuous["b"].TtftMs, Tolerance);
        // Step 3 decodes both: a's third token and b's second end both.
        Assert.Equal(step1 + step2 + 10.6 + (2 * 0.075), continuous["a"].FinishedMs, Tolerance);
        Assert.Equal(continuous["a"].FinishedMs, continuous["b"].FinishedMs, Tolerance);

        // Request-level: b waits until a's three steps end, then runs alone.
        var requestLevel = Run(fleet, s_continuous with { Batching = "request-level" }, requests).Finished.ToDictionary(s => s.Request.Id);
        var aDone = step1 + (2 * decodeOne);
        Assert.Equal(aDone, requestLevel["a"].FinishedMs, Tolerance);
        Assert.Equal(aDone + 10.6 + (500 * H100PrefillMsPerToken) - 5, requestLevel["b"].TtftMs, Tolerance);
        Assert.True(requestLevel["b"].TtftMs > continuous["b"].TtftMs);
    }

    [Fact]
    public void Run_SameSeed_IsDeterministic_EvenForARandomisedPolicy()
    {
        var fleet = Fleet(("H100", 2, PricingMode.Hourly), ("A100", 3, PricingMode.Hourly), ("L4", 4, PricingMode.Hourly));
        var sizes = new List<TraceRow> { new(0, 300, 40), new(0, 2_000, 10), new(0, 900, 200), new(0, 5_000, 1) };
        var workload = FloodWorkload.Create(sizes, lightRate: 20, floodMultiplier: 10, durationSeconds: 5, withFlood: true, seed: 7);
        var choice = new PolicyChoice("power-of-two", "weighted-fair", "continuous");

        var first = new Simulation(fleet, workload, choice, seed: 3).Run();
        var second = new Simulation(fleet, workload, choice, seed: 3).Run();

        Assert.True(first.Finished.Count > 1_000);
        Assert.Equal(Timeline(first), Timeline(second));
        Assert.Equal(Figures(first.Summarize()), Figures(second.Summarize()));
    }

    [Fact]
    public void Run_RequestLargerThanEveryKvCache_CountsAsFailedAndMissed()
    {
        // An L4 holds 60,000 KV tokens; the model's context is set above that so only the KV cache refuses it.
        var fleet = Fleet(("L4", 1, PricingMode.Hourly)) with { MaxContextTokens = 100_000 };
        SimRequest[] requests = [Request("a", 0, 200, 4), Request("huge", 1, 70_000, 1), Request("b", 2, 200, 4), Request("c", 3, 200, 4)];

        var result = Run(fleet, s_continuous, requests);

        Assert.Equal(["a", "b", "c"], result.Finished.Select(s => s.Request.Id).Order());
        var huge = Assert.Single(result.Unserved);
        Assert.Equal(("huge", Unserved.NoReplicaCanHold), (huge.Request.Id, huge.Unserved));
        var summary = result.Summarize();
        Assert.Equal((3, 0, 1), (summary.Jobs, summary.Refused, summary.Failed));
        Assert.Equal(0.75, summary.Attainment, Tolerance); // the failed request is a missed objective
    }

    [Fact]
    public void Run_RequestOverTheModelsContext_IsRefusedAndReported()
    {
        // 8,000 prompt + 500 output > the default context of 8,192, though an H100's KV cache could hold it.
        var result = Run(Fleet(("H100", 1, PricingMode.Hourly)), s_continuous, Request("long", 0, 8_000, 500), Request("ok", 1, 7_000, 1_192));

        var refused = Assert.Single(result.Unserved);
        Assert.Equal(("long", Unserved.OverContext), (refused.Request.Id, refused.Unserved));
        Assert.Equal("ok", Assert.Single(result.Finished).Request.Id); // exactly the context is allowed
        var summary = result.Summarize();
        Assert.Equal((1, 1, 0), (summary.Jobs, summary.Refused, summary.Failed));
        Assert.Equal(1.0, summary.Attainment); // refused like the live API refuses it: not a missed objective
        Assert.Contains("attainment 100.00% of 1 served or failed (1 refused over the context not counted)", summary.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Summary_Text_EveryRequestRefused_PrintsNoAttainment()
    {
        var text = Run(Fleet(("H100", 1, PricingMode.Hourly)), s_continuous, Request("long", 0, 8_000, 500)).Summarize().ToString();

        Assert.Contains("attainment — (nothing served or failed)", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_MeteredEndpointRequestsPerMinute_HoldsTheRequestBeyondTheMinutesWorth()
    {
        // 2 requests per minute, refilled continuously: the third at t=0 owes half a minute.
        var fleet = new FleetSpec("test", null, [new NodeSpec("LPU", 1, PricingMode.Metered, RequestsPerMinute: 2)]);

        var result = Run(fleet, s_continuous, Request("a", 0, 100, 1), Request("b", 0, 100, 1), Request("c", 0, 100, 1));

        var ttft = result.Finished.ToDictionary(s => s.Request.Id, s => s.TtftMs);
        Assert.True(ttft["a"] < 10 && ttft["b"] < 10, $"a {ttft["a"]} ms, b {ttft["b"]} ms");
        Assert.InRange(ttft["c"], 30_000, 30_010);
        Assert.False(result.Finished.Single(s => s.Request.Id == "c").MetObjective);
    }

    [Fact]
    public void Run_MeteredEndpointTokensPerMinute_HoldsTheRequestUntilItsTokensAccrue()
    {
        // 1,000 tokens per minute; two requests of 600 (prompt + output): the second owes 200 tokens = 12 s.
        var fleet = new FleetSpec("test", null, [new NodeSpec("LPU", 1, PricingMode.Metered, TokensPerMinute: 1_000)]);

        var result = Run(fleet, s_continuous, Request("a", 0, 590, 10), Request("b", 0, 590, 10));

        var second = result.Finished.Single(s => s.Request.Id == "b");
        Assert.InRange(second.TtftMs, 12_000, 12_010);
        Assert.InRange(result.Finished.Single(s => s.Request.Id == "a").TtftMs, 0, 10);
    }

    [Fact]
    public void Run_RequestOverTheOnlyEndpointsTokensPerMinute_Fails()
    {
        var fleet = new FleetSpec("test", null, [new NodeSpec("LPU", 1, PricingMode.Metered, TokensPerMinute: 500)]);

        var result = Run(fleet, s_continuous, Request("big", 0, 600, 1), Request("small", 0, 300, 1));

        Assert.Equal(Unserved.NoReplicaCanHold, Assert.Single(result.Unserved).Unserved);
        Assert.Equal("small", Assert.Single(result.Finished).Request.Id);
    }

    [Fact]
    public void Summary_Text_PrintsTheMapsAsValues()
    {
        var text = Run(Fleet(("H100", 1, PricingMode.Hourly)), s_continuous, Request("a", 0, 1_000, 3)).Summarize().ToString();

        Assert.Contains("utilisation H100 100%", text, StringComparison.Ordinal);
        Assert.Contains("share of output tokens H100 100%", text, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Dictionary", text, StringComparison.Ordinal);
    }

    [Fact]
    public void TenantAssignment_IsSeeded_AndScalesTheArrivalRate()
    {
        var rows = Enumerable.Range(0, 1_000).Select(i => new TraceRow(i * 100.0, 10, 3)).ToList();

        var once = TenantAssignment.FromTrace("t", rows, rateFactor: 4, seed: 5);
        var again = TenantAssignment.FromTrace("t", rows, rateFactor: 4, seed: 5);

        Assert.Equal(once.Requests.Select(r => r.TenantId), again.Requests.Select(r => r.TenantId));
        Assert.Equal(25.0, once.Requests[1].ArrivalMs, Tolerance);
        Assert.Equal(3, once.Requests[0].OutputTokens); // the row's output as it is (the reader refuses 0)
        var heaviest = once.Requests.Count(r => r.TenantId == "tenant-0");
        var lightest = once.Requests.Count(r => r.TenantId == "tenant-7");
        Assert.True(heaviest > 4 * lightest, $"Zipf split: tenant-0 {heaviest}, tenant-7 {lightest}");
    }

    private static RunResult Run(FleetSpec fleet, PolicyChoice choice, params SimRequest[] requests) =>
        new Simulation(fleet, new Workload("test", requests, new Dictionary<string, double> { ["t"] = 1 }), choice, seed: 1).Run();

    private static SimRequest Request(string id, double arrivalMs, int prompt, int output) =>
        new(id, "t", arrivalMs, prompt, output, TtftObjective.For(prompt));

    internal static FleetSpec Fleet(params (string Product, int Count, PricingMode Pricing)[] groups) =>
        new("test", null, [.. groups.Select(g => new NodeSpec(g.Product, g.Count, g.Pricing))]);

    private static object Figures(RunSummary s) => (s.CostUsd, s.TtftP99Ms, s.TpotP99Ms, s.Attainment, s.EnergyJoules,
        string.Join(",", s.UtilisationByProduct.Select(kv => $"{kv.Key}={kv.Value}")), s.Fairness);

    private static List<(string, string?, double, double)> Timeline(RunResult run) =>
        [.. run.Finished.Select(s => (s.Request.Id, s.Product, s.FirstTokenMs, s.FinishedMs))];
}
