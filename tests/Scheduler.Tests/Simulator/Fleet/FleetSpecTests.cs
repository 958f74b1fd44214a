using Scheduler.Simulator;
using Scheduler.Simulator.Fleet;
using Scheduler.Simulator.Workload;
using Scheduler.Tests.EndToEnd;

namespace Scheduler.Tests.Simulator.Fleet;

public sealed class FleetSpecTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("fleet-spec-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void Load_PricesAndLimitsInTheFile_ReplaceTheProfiles_AndTheRunCostsThem()
    {
        var fleet = FleetSpec.Load(Write("""
            {
              "name": "priced", "maxContextTokens": 4096,
              "nodes": [
                { "product": "H100", "count": 1, "pricing": "hourly", "pricePerHourUsd": 3.2, "maxSequences": 8, "kvCapacityTokens": 50000 },
                { "product": "LPU", "count": 1, "pricing": "metered", "pricePerMillionInputTokensUsd": 0.1, "pricePerMillionOutputTokensUsd": 0.2, "requestsPerMinute": 60, "tokensPerMinute": 9000 }
              ]
            }
            """), "--fleet");

        var h100 = fleet.Nodes[0].Profile();
        var lpu = fleet.Nodes[1].Profile();
        Assert.Equal(4096, fleet.MaxContextTokens);
        Assert.Equal((3.2, 8, 50_000L), (h100.PricePerHourUsd, h100.MaxSequences, h100.KvCapacityTokens));
        Assert.Equal((0.1, 0.2), (lpu.PricePerMillionInputTokensUsd, lpu.PricePerMillionOutputTokensUsd));
        Assert.Equal(9_000, fleet.Nodes[1].Limiter(TimeProvider.System)!.MaxTokensPerRequest);

        // One request on the H100 alone: the run costs its busy time at the file's $3.20/h, not the profile's $12.29.
        var hourly = fleet with { Nodes = [fleet.Nodes[0]] };
        var result = new Simulation(hourly, new Workload("one", [new SimRequest("a", "t", 0, 1_000, 3, TtftObjective.For(1_000))], new Dictionary<string, double> { ["t"] = 1 }),
            new PolicyChoice("cost-aware", "weighted-fair", "continuous"), seed: 1).Run();
        var busySeconds = result.Replicas[0].BusyMs / 1000;
        Assert.Equal(3.2 * busySeconds / 3600, result.Summarize().CostUsd, 1e-12);
    }

    [Theory]
    [InlineData("""{ "product": "H100", "count": 1, "pricing": "hourly", "pricePerHour": 3.2 }""", "pricePerHour")]
    [InlineData("""{ "product": "H100", "count": 1, "pricing": "hourly", "pricePerHourUsd": -1 }""", "pricePerHourUsd")]
    [InlineData("""{ "product": "H100", "count": 1, "pricing": "hourly", "pricePerMillionInputTokensUsd": 0.1 }""", "pricing is hourly")]
    [InlineData("""{ "product": "LPU", "count": 1, "pricing": "metered", "pricePerMillionInputTokensUsd": 0, "pricePerMillionOutputTokensUsd": 0 }""", "pricing is metered")]
    [InlineData("""{ "product": "LPU", "count": 1, "pricing": "metered", "pricePerHourUsd": 2 }""", "pricing is metered")]
    [InlineData("""{ "product": "H100", "count": 1, "pricing": "metered" }""", "pricing is metered")]
    [InlineData("""{ "product": "H100", "count": 1, "pricing": "hourly", "requestsPerMinute": 100 }""", "requestsPerMinute")]
    [InlineData("""{ "product": "LPU", "count": 1, "pricing": "metered", "tokensPerMinute": 0 }""", "tokensPerMinute")]
    [InlineData("""{ "product": "B200", "count": 1, "pricing": "hourly" }""", "product")]
    [InlineData("""{ "product": "H100", "count": 1, "pricing": "free" }""", "pricing")]
    [InlineData("""{ "product": "H100", "pricing": "hourly" }""", "nodes[0]: missing key 'count'")]
    [InlineData("""{ "product": "H100", "count": 0, "pricing": "hourly" }""", "count must be at least 1 and at most 100,000, not 0")]
    [InlineData("""{ "product": "H100", "count": 100001, "pricing": "hourly" }""", "nodes[0] (H100): count must be at least 1 and at most 100,000, not 100,001")]
    [InlineData("""{ "product": "H100", "count": 1 }""", "'pricing'")]
    [InlineData("""{ "count": 1, "pricing": "hourly" }""", "'product'")]
    [InlineData("""{ "product": null, "count": 1, "pricing": "hourly" }""", "nodes[0] (): product: '' is not one of")]
    [InlineData("""{ "product": "PPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPP", "count": 1, "pricing": "hourly" }""", "product: 'PPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPP…PPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPP (100 characters)' is not one of")]
    [InlineData("""{ "product": "H100", "count": 1, "pricing": "hourly", "maxSequences": 2147483647 }""", "maxSequences must be at most 4,096")]
    [InlineData("""{ "product": "H100", "count": 1, "pricing": "hourly", "kvCapacityTokens": 9000000000000000000 }""", "kvCapacityTokens at most")]
    [InlineData("""{ "product": "H100", "count": 1, "pricing": "hourly", "pricePerHourUsd": 1e400 }""", "between 0 and 1,000 US dollars")]
    [InlineData("""{ "product": "H100", "count": 1, "pricing": "hourly", "pricePerHourUsd": 1e300 }""", "between 0 and 1,000 US dollars")]
    [InlineData("""{ "product": "H100", "count": 1, "count": 2, "pricing": "hourly" }""", "nodes[0].count: given twice")]
    [InlineData("null", "nodes[0]: null")]
    // These named the simulator's types ("could not be converted to Scheduler.Simulator.Fleet.NodeSpec", "could not be
    // mapped to any .NET member contained in type …") and not the value.
    [InlineData("""{ "product": "H100", "count": 1.5, "pricing": "hourly" }""", ": nodes[0].count: 1.5 is not a whole number (at most 2,147,483,647)")]
    [InlineData("""{ "product": "H100", "count": 1, "pricing": 0 }""", ": nodes[0].pricing: 0 is not one of hourly, metered")]
    [InlineData("""{ "product": "H100", "count": 1, "pricing": "hourly", "gpus": 2 }""", ": nodes[0]: unknown key 'gpus'; the keys are product, count, pricing, maxSequences, kvCapacityTokens, pricePerHourUsd,")]
    public void Load_AFieldItCannotHonour_IsRefusedNamingIt(string node, string field)
    {
        var path = Write($$"""{ "name": "bad", "nodes": [ {{node}} ] }""");

        var error = Assert.Throws<InvalidDataException>(() => FleetSpec.Load(path, "--fleet"));

        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Contains(field, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Scheduler.Simulator", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_GroupsCountingMoreAcceleratorsTogetherThanTheSimulatorModels_AreRefused()
    {
        var path = Write("""
            { "name": "huge", "nodes": [ { "product": "H100", "count": 60000, "pricing": "hourly" }, { "product": "L4", "count": 60000, "pricing": "hourly" } ] }
            """);

        var error = Assert.Throws<InvalidDataException>(() => FleetSpec.Load(path, "--fleet"));

        Assert.Equal($"{path}: nodes: the groups count 120,000 accelerators together, more than the 100,000 the simulator models", error.Message);
    }

    [Fact]
    public void Load_AnEmptyPathOrAFolder_IsRefusedInWords()
    {
        Assert.Equal("--fleet: no file given", Assert.Throws<InvalidDataException>(() => FleetSpec.Load("", "--fleet")).Message);
        Assert.Equal($"{_folder}: a folder, not a file", Assert.Throws<InvalidDataException>(() => FleetSpec.Load(_folder, "--fleet")).Message);
    }

    [Fact]
    public void Run_TwoGroupsOfOneProduct_GetReplicasNumberedAcrossTheFleet()
    {
        // Spot and on-demand H100s: two groups of one product used to collide on the replica id "H100-0".
        var fleet = FleetSpec.Load(Write("""
            { "name": "spot-mix", "nodes": [
              { "product": "H100", "count": 2, "pricing": "hourly" },
              { "product": "h100", "count": 1, "pricing": "hourly", "pricePerHourUsd": 4.0 } ] }
            """), "--fleet");
        var requests = Enumerable.Range(0, 6).Select(i => new SimRequest($"r{i}", "t", i, 500, 4, TtftObjective.For(500))).ToList();

        var result = new Simulation(fleet, new Workload("w", requests, new Dictionary<string, double> { ["t"] = 1 }), new PolicyChoice("round-robin", "weighted-fair", "continuous"), seed: 1).Run();

        Assert.Equal(["H100-0", "H100-1", "H100-2"], result.Replicas.Select(r => r.View.ReplicaId));
        Assert.Equal(4.0, result.Replicas[2].View.Profile.PricePerHourUsd);
        Assert.Equal(6, result.Finished.Count);
    }

    [Fact]
    public void Summary_AnHourlyGroupsOwnPriceAndLimits_AreShown_SoTwoGroupsOfOneProductReadApart()
    {
        var fleet = new FleetSpec("l4s", null,
            [new NodeSpec("L4", 1, PricingMode.Hourly), new NodeSpec("L4", 2, PricingMode.Hourly, MaxSequences: 64, KvCapacityTokens: 20_000, PricePerHourUsd: 0.5),
             new NodeSpec("LPU", 1, PricingMode.Metered, MaxSequences: 16, RequestsPerMinute: 1_000)]);

        Assert.Equal("1×L4 + 2×L4 at $0.5/h (64 slots, 20,000 KV tokens) + 1×LPU (metered, 16 concurrent, 1,000 req/min)", fleet.Summary());
    }

    [Fact]
    public void Load_ARepeatedTopLevelField_IsRefused()
    {
        var error = Assert.Throws<InvalidDataException>(() => FleetSpec.Load(Write("""{ "name": "a", "nodes": [ { "product": "L4", "count": 1, "pricing": "hourly" } ], "name": "b" }"""), "--fleet"));

        Assert.EndsWith(": name: given twice", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_AnUnknownTopLevelField_IsRefused()
    {
        var error = Assert.Throws<InvalidDataException>(() => FleetSpec.Load(Write("""{ "name": "x", "maxContext": 4096, "nodes": [ { "product": "L4", "count": 1, "pricing": "hourly" } ] }"""), "--fleet"));

        Assert.Contains("maxContext", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_TheRepositorysFleets_AreValidAndLimitTheMeteredEndpoint()
    {
        var fleets = Directory.GetFiles(Path.Combine(RepoPaths.Root, "sim", "fleets"), "*.json").Select(f => FleetSpec.Load(f, "--fleet")).ToList();

        Assert.Contains(fleets, f => f.Name == "hetero");
        Assert.All(fleets.SelectMany(f => f.Nodes).Where(n => n.Pricing == PricingMode.Metered), n =>
            Assert.True(n.RequestsPerMinute > 0 && n.TokensPerMinute > 0 && n.MaxSequences > 0, n.Summary()));
    }

    private string Write(string json)
    {
        var path = Path.Combine(_folder, $"{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
    }
}
