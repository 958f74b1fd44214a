using Scheduler.Simulator;
using Scheduler.Simulator.Engine;
using Scheduler.Simulator.Fleet;
using Scheduler.Simulator.Scenarios;
using Scheduler.Simulator.Workload;

namespace Scheduler.Tests.Simulator;

public sealed class AutoscaleTests
{
    private static readonly PolicyChoice s_default = new("cost-aware", "weighted-fair", "continuous");

    [Fact]
    public void Run_LoadThatFalls_ReleasesReplicas_AndCostsLessProvisionedThanTheStaticFleet()
    {
        // Ten busy minutes (20 req/s of 1,000 + 50 tokens), then twenty quiet ones (one request every 5 s).
        var workload = StepWorkload(busyUntilSeconds: 600, busyPerSecond: 20, quietUntilSeconds: 1_800, quietPerSecond: 0.2);
        var fleet = SimulationTests.Fleet(("L4", 8, PricingMode.Hourly));
        var settings = AutoscaleSettings.Default with { ColdStart = TimeSpan.FromSeconds(30), ScaleDownAfter = TimeSpan.FromSeconds(60) };

        var fixedFleet = new Simulation(fleet, workload, s_default, seed: 1).Run();
        var scaled = new Simulation(fleet, workload, s_default, seed: 1, settings).Run();

        Assert.Equal(workload.Requests.Count, scaled.Finished.Count);
        Assert.Empty(scaled.Unserved);
        var end = scaled.Finished.Max(s => s.FinishedMs);
        var paid = scaled.Replicas.Select(r => r.ProvisionedSeconds(0, end)).ToList();
        Assert.Contains(paid, s => s > 0 && s < 1_000); // asked for, then released after the busy phase
        Assert.True(scaled.Summarize().ProvisionedCostUsd < 0.6 * fixedFleet.Summarize().ProvisionedCostUsd,
            $"autoscaled ${scaled.Summarize().ProvisionedCostUsd:0.000} vs static ${fixedFleet.Summarize().ProvisionedCostUsd:0.000}");
        Assert.True(scaled.Summarize().Attainment >= 0.99, $"attainment {scaled.Summarize().Attainment:P2}");
    }

    [Fact]
    public void Run_SuddenLoad_WaitsForTheColdStart()
    {
        // Quiet for five minutes, then a burst the starting fleet (sized for the quiet minute) cannot serve in time:
        // the longer the cold start, the more of the burst misses its objective.
        var workload = StepWorkload(busyUntilSeconds: 0, busyPerSecond: 0, quietUntilSeconds: 300, quietPerSecond: 0.2, burstSeconds: 120, burstPerSecond: 20);
        var fleet = SimulationTests.Fleet(("L4", 12, PricingMode.Hourly));

        double Attainment(double coldStartSeconds) => new Simulation(fleet, workload, s_default, seed: 1,
            AutoscaleSettings.Default with { ColdStart = TimeSpan.FromSeconds(coldStartSeconds) }).Run().Summarize().Attainment;

        var quick = Attainment(1);
        var slow = Attainment(240);
        Assert.True(slow < quick, $"cold start 240 s: {slow:P2}, 1 s: {quick:P2}");
    }

    [Fact]
    public void Run_RecurringBursts_HoldsTheirCapacityThroughThePeakLookback()
    {
        // A quiet trickle with a 5 s burst every 150 s: the cold start (120 s) is too long to follow each burst, so
        // only the capacity held for the last burst's peak serves the next one. Scale-down after idle is short here,
        // so the difference is the peak lookback's alone.
        var workload = BurstyWorkload(seconds: 3_000, quietPerSecond: 0.5, everySeconds: 150, burstSeconds: 5, burstPerSecond: 15);
        var fleet = SimulationTests.Fleet(("L4", 12, PricingMode.Hourly));
        var settings = AutoscaleSettings.Default with { ScaleDownAfter = TimeSpan.FromSeconds(20) };

        var held = new Simulation(fleet, workload, s_default, seed: 1, settings).Run().Summarize();
        var forgotten = new Simulation(fleet, workload, s_default, seed: 1, settings with { PeakLookback = TimeSpan.FromSeconds(2) }).Run().Summarize();
        var fixedFleet = new Simulation(fleet, workload, s_default, seed: 1).Run().Summarize();

        // The first burst meets the warm floor alone (75 of 2,925 requests); held, the other nineteen are served.
        Assert.True(held.Attainment >= 0.95, $"peak held 300 s: {held.Attainment:P2}");
        Assert.True(forgotten.Attainment < 0.8, $"peak held 2 s: {forgotten.Attainment:P2}");
        Assert.True(held.ProvisionedCostUsd < fixedFleet.ProvisionedCostUsd,
            $"autoscaled ${held.ProvisionedCostUsd:0.000} vs static ${fixedFleet.ProvisionedCostUsd:0.000}");
    }

    [Fact]
    public void Autoscale_TwoGroupsOfOneProductAtDifferentPrices_ScaleTheCheaperFirst()
    {
        // On-demand H100s listed first ($12.29/h), spot H100s second at $4/h: a load two H100s carry is served from the
        // spot group alone, and each group is a pool of its own, named by its price.
        var workload = StepWorkload(busyUntilSeconds: 600, busyPerSecond: 4, quietUntilSeconds: 900, quietPerSecond: 0.2);
        var fleet = new FleetSpec("spot-mix", null,
            [new NodeSpec("H100", 2, PricingMode.Hourly), new NodeSpec("H100", 2, PricingMode.Hourly, PricePerHourUsd: 4.0)]);

        var run = new Simulation(fleet, workload, s_default, seed: 1, AutoscaleSettings.Default).Run();

        var end = run.Finished.Max(s => s.FinishedMs);
        var paid = run.Replicas.Select(r => r.ProvisionedSeconds(0, end)).ToList();
        Assert.Equal(workload.Requests.Count, run.Finished.Count);
        Assert.True(paid[2] > 0, "the spot group's first replica was never asked for");
        Assert.Equal([0.0, 0.0], paid[..2]);
        Assert.Equal(["H100 at $12.29/h", "H100 at $4/h"], HourlyPool.Of(run.Replicas).Select(p => p.Name));
        Assert.Equal("2×H100 + 2×H100 at $4/h", fleet.Summary());
    }

    [Fact]
    public void Markdown_EveryRequestFailed_PrintsDashesNotAnInfiniteCostOrABillionReplicas()
    {
        // 3,000 requests in 5 minutes, every one larger than the catalogue's KV caches: the pool it started with was paid
        // for until released and served nothing, so neither a cost per token nor a mean pool size over the (empty)
        // makespan exists. The table read "Infinity" and "mean 130000000000.0×H100".
        var folder = Directory.CreateTempSubdirectory("autoscale-failed-").FullName;
        try
        {
            File.WriteAllLines(Path.Combine(folder, "azure-llm-2023-code.csv"),
                ["TIMESTAMP,ContextTokens,GeneratedTokens", .. Enumerable.Range(0, 3_000).Select(i => $"2023-11-16 18:{i / 600:00}:{i / 10 % 60:00}.{i % 10}000000,1000,10")]);
            var catalogue = new FleetSpec("tiny-kv", null, [new NodeSpec("H100", 2, PricingMode.Hourly, KvCapacityTokens: 10)]);

            var outcome = Assert.Single(AutoscaleScenario.Run(catalogue, catalogue, folder, [new TraceScenario("code", 1)], seed: 1, AutoscaleSettings.Default));
            var text = AutoscaleScenario.Markdown(catalogue, catalogue, AutoscaleSettings.Default, [outcome]);

            Assert.Equal(3_000, outcome.Autoscaled.Failed);
            Assert.True(outcome.Autoscaled.ProvisionedCostUsd > 0, "the starting pool was paid for");
            Assert.True(double.IsNaN(outcome.Autoscaled.ProvisionedCostPerMillionTokens), $"{outcome.Autoscaled.ProvisionedCostPerMillionTokens}");
            Assert.True(double.IsNaN(outcome.MeanReplicas["H100"]), $"{outcome.MeanReplicas["H100"]}");
            Assert.Contains("| code at 1× | autoscaled (mean —×H100) | — | — | 0.00% | 0 / 3000 |", text, StringComparison.Ordinal);
            Assert.DoesNotContain("Infinity", text, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static Workload BurstyWorkload(double seconds, double quietPerSecond, double everySeconds, double burstSeconds, double burstPerSecond)
    {
        var requests = new List<SimRequest>();
        for (var at = 0.0; at < seconds * 1_000; at += 1_000 / quietPerSecond)
        {
            requests.Add(new SimRequest($"q{requests.Count}", "t", at, 1_000, 50, TtftObjective.For(1_000)));
        }

        for (var start = everySeconds; start < seconds; start += everySeconds)
        {
            for (var at = start * 1_000; at < (start + burstSeconds) * 1_000; at += 1_000 / burstPerSecond)
            {
                requests.Add(new SimRequest($"b{requests.Count}", "t", at, 1_000, 50, TtftObjective.For(1_000)));
            }
        }

        return new Workload("bursty", [.. requests.OrderBy(r => r.ArrivalMs)], new Dictionary<string, double> { ["t"] = 1 });
    }

    internal static Workload StepWorkload(double busyUntilSeconds, double busyPerSecond, double quietUntilSeconds, double quietPerSecond, double burstSeconds = 0, double burstPerSecond = 0)
    {
        var requests = new List<SimRequest>();
        void Add(double fromSeconds, double toSeconds, double perSecond)
        {
            for (var at = fromSeconds * 1_000; perSecond > 0 && at < toSeconds * 1_000; at += 1_000 / perSecond)
            {
                requests.Add(new SimRequest($"r{requests.Count}", "t", at, 1_000, 50, TtftObjective.For(1_000)));
            }
        }

        Add(0, busyUntilSeconds, busyPerSecond);
        Add(busyUntilSeconds, quietUntilSeconds, quietPerSecond);
        Add(quietUntilSeconds, quietUntilSeconds + burstSeconds, burstPerSecond);
        return new Workload("step", requests, new Dictionary<string, double> { ["t"] = 1 });
    }
}
