using Scheduler.Policies.Profiles;
using Scheduler.Worker.Hosting;

namespace Scheduler.Tests.Worker;

public sealed class WorkerNodeOptionsTests
{
    [Theory]
    [InlineData("1", 1.0)]
    [InlineData("12.5", 12.5)]
    [InlineData("instant", double.PositiveInfinity)]
    [InlineData("Instant", double.PositiveInfinity)]
    [InlineData("0", double.PositiveInfinity)]
    public void SpeedUp_ParsesFactorsAndInstant(string speedUp, double factor) =>
        Assert.Equal(factor, new WorkerNodeOptions { SpeedUp = speedUp }.SpeedUpFactor());

    [Theory]
    [InlineData("fast")]
    [InlineData("-2")]
    public void SpeedUp_RejectsOtherValues_NamingTheSetting(string speedUp)
    {
        var error = Assert.Throws<ArgumentException>(() => new WorkerNodeOptions { SpeedUp = speedUp }.SpeedUpFactor());
        Assert.Contains("Worker:SpeedUp", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Inventory_DefaultsToOneA100_AndAdvertisesASpedUpProfile()
    {
        using var inventory = NodeInventory.Create(new WorkerNodeOptions { NodeId = "n", SpeedUp = "10" });

        var replica = Assert.Single(inventory.Replicas);
        Assert.Equal("n-a100-0/llama-3.1-8b", replica.ReplicaId);
        Assert.Equal(AcceleratorProfiles.A100.DecodeStepBaseMs / 10, replica.EngineProfile.DecodeStepBaseMs, precision: 9);
        var advertised = inventory.Describe("http://127.0.0.1:1").Accelerators.Single().Profile;
        Assert.Equal(replica.EngineProfile.DecodeStepBaseMs, advertised.DecodeStepBaseMs);
        Assert.Equal(AcceleratorProfiles.A100.PricePerHourUsd, advertised.PricePerHourUsd);
    }

    [Fact]
    public void Inventory_NumbersAcceleratorsPerProductAcrossGroups_AndAppliesOverrides()
    {
        var options = new WorkerNodeOptions { NodeId = "n" };
        options.Accelerators.Add(new AcceleratorOptions { Product = "l4", Count = 2, Model = "m1" });
        options.Accelerators.Add(new AcceleratorOptions { Product = "L4", Model = "m2", MaxSequences = 3, KvCapacityTokens = 5_000 });

        using var inventory = NodeInventory.Create(options);
        var description = inventory.Describe("http://127.0.0.1:1");

        Assert.Equal(["n-l4-0/m1", "n-l4-1/m1", "n-l4-2/m2"], description.Replicas.Select(r => r.ReplicaId));
        Assert.Equal((3, 5_000L), (description.Replicas[2].MaxSequences, description.Replicas[2].KvCapacityTokens));
        Assert.Equal(AcceleratorProfiles.L4.MaxSequences, description.Replicas[0].MaxSequences);
    }

    [Fact]
    public void Inventory_AdvertisesConfiguredPrices_KeepingTheProfilesOtherwise()
    {
        var options = new WorkerNodeOptions { NodeId = "n" };
        options.Accelerators.Add(new AcceleratorOptions { Product = "H100", PricePerHourUsd = 3.2 });
        options.Accelerators.Add(new AcceleratorOptions { Product = "LPU", PricePerMillionInputTokensUsd = 0.05, PricePerMillionOutputTokensUsd = 0.08 });
        options.Accelerators.Add(new AcceleratorOptions { Product = "L4" });

        using var inventory = NodeInventory.Create(options);
        var profiles = inventory.Describe("http://127.0.0.1:1").Accelerators.Select(a => a.Profile).ToList();

        Assert.Equal(3.2, profiles[0].PricePerHourUsd);
        Assert.Equal((0.05, 0.08), (profiles[1].PricePerMillionInputTokensUsd, profiles[1].PricePerMillionOutputTokensUsd));
        Assert.Equal(AcceleratorProfiles.L4.PricePerHourUsd, profiles[2].PricePerHourUsd);
    }

    [Fact]
    public void Inventory_GivesSimulatedReplicasTheirPrefillMicroBatch_256UnlessSet()
    {
        var options = new WorkerNodeOptions { NodeId = "n" };
        options.Accelerators.Add(new AcceleratorOptions { Product = "L4" });
        options.Accelerators.Add(new AcceleratorOptions { Product = "H100", PrefillMicroBatchTokens = 0 });
        options.Accelerators.Add(new AcceleratorOptions { Product = "A100", PrefillMicroBatchTokens = 512 });

        using var inventory = NodeInventory.Create(options);

        Assert.Equal([256, 0, 512], inventory.Replicas.Select(r => r.PrefillMicroBatchTokens));
    }

    [Theory]
    [InlineData("simulated", -1)]
    [InlineData("upstream", 256)]
    public void Inventory_RejectsANegativePrefillMicroBatch_OrOneOnAnotherEngine_NamingTheSetting(string engine, int tokens)
    {
        var options = new WorkerNodeOptions();
        var group = new AcceleratorOptions { Product = "L4", Engine = engine, PrefillMicroBatchTokens = tokens };
        group.Upstream.BaseUrl = "http://127.0.0.1:1";
        options.Accelerators.Add(group);

        var error = Assert.Throws<ArgumentException>(() => NodeInventory.Create(options));

        Assert.StartsWith("Worker:Accelerators:0:PrefillMicroBatchTokens must be at least 0", error.Message, StringComparison.Ordinal);
        Assert.Contains($"not {tokens} on the {engine} engine", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Inventory_RejectsANegativePrice_NamingTheSetting()
    {
        var options = new WorkerNodeOptions();
        options.Accelerators.Add(new AcceleratorOptions { Product = "H100", PricePerHourUsd = -1 });

        var error = Assert.Throws<ArgumentException>(() => NodeInventory.Create(options));

        Assert.Contains("Worker:Accelerators:0:PricePerHourUsd", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Inventory_DescribesEachAcceleratorsPool_EmptyWhereNoneIsNamed()
    {
        var options = new WorkerNodeOptions();
        options.Accelerators.Add(new AcceleratorOptions { Product = "H100", Count = 2, Pool = "h100-spot" });
        options.Accelerators.Add(new AcceleratorOptions { Product = "L4" });

        using var inventory = NodeInventory.Create(options);

        Assert.Equal(["h100-spot", "h100-spot", ""], inventory.Describe("http://127.0.0.1:1").Accelerators.Select(a => a.Pool));
    }

    [Theory]
    [InlineData("h100 spot")]
    [InlineData("-spot")]
    [InlineData("spot.")]
    public void Inventory_RejectsAPoolThatIsNoPoolName_NamingTheSetting(string pool)
    {
        var options = new WorkerNodeOptions();
        options.Accelerators.Add(new AcceleratorOptions { Product = "H100", Pool = pool });

        var error = Assert.Throws<ArgumentException>(() => NodeInventory.Create(options));

        Assert.StartsWith("Worker:Accelerators:0:Pool must be 1 to 63 letters", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Inventory_RejectsAnUnknownProduct_NamingTheSettingAndTheChoices()
    {
        var options = new WorkerNodeOptions();
        options.Accelerators.Add(new AcceleratorOptions { Product = "B200" });

        var error = Assert.Throws<ArgumentException>(() => NodeInventory.Create(options));

        Assert.Contains("Worker:Accelerators:0:Product", error.Message, StringComparison.Ordinal);
        Assert.Contains("H100", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("127.0.0.1:5000")]
    [InlineData("htp://127.0.0.1:5000")]
    [InlineData("http://127.0.0.1:5000,silo-b:5000")]
    public void Inventory_RejectsASchedulerAddressThatIsNotAnHttpUrl_NamingTheSetting(string address)
    {
        var error = Assert.Throws<ArgumentException>(() => NodeInventory.Create(new WorkerNodeOptions { SchedulerAddress = address }));

        Assert.StartsWith("Worker:SchedulerAddress must be http:// or https:// URLs", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("http://127.0.0.1:5000, https://silo-b.example:5000")]
    public void Inventory_TakesHttpAndHttpsSchedulerAddresses_OrNone(string? address)
    {
        using var inventory = NodeInventory.Create(new WorkerNodeOptions { SchedulerAddress = address });
    }
}
