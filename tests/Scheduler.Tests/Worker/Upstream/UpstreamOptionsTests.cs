using Scheduler.Policies.Profiles;
using Scheduler.Worker.Hosting;

namespace Scheduler.Tests.Worker.Upstream;

public sealed class UpstreamOptionsTests
{
    private static readonly Func<string, string?> NoEnvironment = _ => null;

    [Fact]
    public void Inventory_UpstreamGroup_OffersItsSlotsAndPrices_AndNamesTheEngine()
    {
        var options = new WorkerNodeOptions { NodeId = "n" };
        var group = new AcceleratorOptions
        {
            Product = "LPU",
            Model = "llama-3.3-70b",
            Engine = "Upstream",
            MaxContextTokens = 8_192,
            PricePerMillionInputTokensUsd = 0.59,
            PricePerMillionOutputTokensUsd = 0.79,
        };
        group.Upstream.BaseUrl = "https://api.groq.com/openai";
        group.Upstream.Model = "llama-3.3-70b-versatile";
        group.Upstream.ApiKeyEnvironmentVariable = "GROQ_API_KEY";
        group.Upstream.Slots = 3;
        group.Upstream.RequestsPerMinute = 30;
        group.Upstream.TokensPerMinute = 6_000;
        group.Upstream.ChatOnly = true;
        options.Accelerators.Add(group);
        options.Accelerators.Add(new AcceleratorOptions { Product = "L4", Model = "m" });

        using var inventory = NodeInventory.Create(options, name => name == "GROQ_API_KEY" ? " gsk_test \n" : null);
        var description = inventory.Describe("http://127.0.0.1:1");

        Assert.Equal("simulated+upstream", description.Engine);
        var replica = inventory.Replicas[0];
        Assert.Equal(("upstream", "n-lpu-0/llama-3.3-70b"), (replica.Engine, replica.ReplicaId));
        Assert.Equal((3, 3L * 8_192), (description.Replicas[0].MaxSequences, description.Replicas[0].KvCapacityTokens));
        var settings = Assert.IsType<Scheduler.Worker.Engines.Upstream.UpstreamReplicaSettings>(replica.Upstream);
        Assert.Equal(
            (new Uri("https://api.groq.com/openai"), "llama-3.3-70b-versatile", "gsk_test", 30, 6_000, true),
            (settings.BaseUri, settings.Model, settings.ApiKey, settings.RequestsPerMinute, settings.TokensPerMinute, settings.ChatOnly));
        var profile = description.Accelerators[0].Profile;
        Assert.Equal((0.59, 0.79), (profile.PricePerMillionInputTokensUsd, profile.PricePerMillionOutputTokensUsd));
        Assert.Equal(AcceleratorProfiles.L4.MaxSequences, description.Replicas[1].MaxSequences);

        // The limits are announced too, so the scheduler's placement counts the wait they impose; a GPU has none.
        Assert.Equal((30, 6_000), (description.Replicas[0].RequestsPerMinute, description.Replicas[0].TokensPerMinute));
        Assert.Equal((0, 0), (description.Replicas[1].RequestsPerMinute, description.Replicas[1].TokensPerMinute));
    }

    [Fact]
    public void Inventory_UpstreamGroup_TakesMaxSequencesOverSlots_AndAnHourlyPrice()
    {
        var options = new WorkerNodeOptions { NodeId = "n", Engine = "upstream" };
        var group = new AcceleratorOptions { Product = "H100", MaxSequences = 32, PricePerHourUsd = 2.5 };
        group.Upstream.BaseUrl = "http://vllm:8000";
        group.Upstream.Model = "meta-llama/Llama-3.1-8B-Instruct";
        options.Accelerators.Add(group);

        using var inventory = NodeInventory.Create(options, NoEnvironment);

        var description = inventory.Describe("http://127.0.0.1:1");
        Assert.Equal(32, description.Replicas[0].MaxSequences);
        Assert.Equal(2.5, description.Accelerators[0].Profile.PricePerHourUsd);
        Assert.Null(inventory.Replicas[0].Upstream!.ApiKey);
    }

    [Theory]
    [InlineData(null, "m", "Worker:Accelerators:0:Upstream:BaseUrl")]
    [InlineData("vllm:8000/v1", "m", "Worker:Accelerators:0:Upstream:BaseUrl")]
    [InlineData("ftp://vllm", "m", "Worker:Accelerators:0:Upstream:BaseUrl")]
    [InlineData("http://vllm:8000", " ", "Worker:Accelerators:0:Upstream:Model")]
    public void Validate_RequiresAnHttpBaseUrlAndAModel_NamingTheSetting(string? baseUrl, string model, string setting)
    {
        var error = Assert.Throws<ArgumentException>(() => new UpstreamOptions { BaseUrl = baseUrl, Model = model }.Validate("Worker:Accelerators:0:Upstream", NoEnvironment));

        Assert.Contains(setting, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, 0, 0, "Slots")]
    [InlineData(1, -1, 0, "RequestsPerMinute")]
    [InlineData(1, 0, -5, "TokensPerMinute")]
    public void Validate_RejectsBadCounts_NamingTheSetting(int slots, int requestsPerMinute, int tokensPerMinute, string setting)
    {
        var options = Valid();
        options.Slots = slots;
        options.RequestsPerMinute = requestsPerMinute;
        options.TokensPerMinute = tokensPerMinute;

        var error = Assert.Throws<ArgumentException>(() => options.Validate("Worker:Accelerators:2:Upstream", NoEnvironment));

        Assert.Contains($"Worker:Accelerators:2:Upstream:{setting}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_RejectsANonPositiveConnectTimeout()
    {
        var options = Valid();
        options.ConnectTimeoutSeconds = 0;

        var error = Assert.Throws<ArgumentException>(() => options.Validate("Worker:Accelerators:0:Upstream", NoEnvironment));

        Assert.Contains("Worker:Accelerators:0:Upstream:ConnectTimeoutSeconds", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void Validate_RejectsAnIdleTimeoutThatIsNoNumberOfSeconds(double seconds)
    {
        var options = Valid();
        options.IdleTimeoutSeconds = seconds;

        var error = Assert.Throws<ArgumentException>(() => options.Validate("Worker:Upstream", NoEnvironment));

        Assert.StartsWith("Worker:Upstream:IdleTimeoutSeconds must be a number of seconds, 0 for none", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_IdleTimeout_IsSeconds_AndZeroWaitsForEver()
    {
        var options = Valid();
        Assert.Equal(TimeSpan.FromSeconds(120), options.Validate("Worker:Upstream", NoEnvironment).IdleTimeout);

        options.IdleTimeoutSeconds = 0;
        Assert.Equal(Timeout.InfiniteTimeSpan, options.Validate("Worker:Upstream", NoEnvironment).IdleTimeout);
    }

    [Fact]
    public void Validate_ApiKeyEnvironmentVariableThatIsUnset_NamesTheVariable()
    {
        var options = Valid();
        options.ApiKeyEnvironmentVariable = "GROQ_API_KEY";

        var error = Assert.Throws<ArgumentException>(() => options.Validate("Worker:Accelerators:0:Upstream", NoEnvironment));

        Assert.Contains("Worker:Accelerators:0:Upstream:ApiKeyEnvironmentVariable", error.Message, StringComparison.Ordinal);
        Assert.Contains("GROQ_API_KEY", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ReadsTheApiKeyFromAFile_AndRefusesAnEmptyOrMissingOne()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "sk-from-file\n");
            var options = Valid();
            options.ApiKeyFile = file;
            Assert.Equal("sk-from-file", options.Validate("Worker:Accelerators:0:Upstream", NoEnvironment).ApiKey);

            File.WriteAllText(file, " \n");
            var empty = Assert.Throws<ArgumentException>(() => options.Validate("Worker:Accelerators:0:Upstream", NoEnvironment));
            Assert.Contains("Worker:Accelerators:0:Upstream:ApiKeyFile", empty.Message, StringComparison.Ordinal);

            File.Delete(file);
            var missing = Assert.Throws<ArgumentException>(() => options.Validate("Worker:Accelerators:0:Upstream", NoEnvironment));
            Assert.Contains("cannot be read", missing.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Validate_RefusesTwoKeySources()
    {
        var options = Valid();
        options.ApiKeyEnvironmentVariable = "K";
        options.ApiKeyFile = "/k";

        var error = Assert.Throws<ArgumentException>(() => options.Validate("Worker:Accelerators:0:Upstream", _ => "key"));

        Assert.Contains("both set", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Inventory_GroupsWithoutAnUpstreamOfTheirOwn_UseTheNodesUpstream_AndAMissingOneIsNamed()
    {
        var options = new WorkerNodeOptions { NodeId = "n", Engine = "upstream" };
        options.Accelerators.Add(new AcceleratorOptions { Product = "L4" });

        var missing = Assert.Throws<ArgumentException>(() => NodeInventory.Create(options, NoEnvironment));
        Assert.Contains("Worker:Upstream:BaseUrl", missing.Message, StringComparison.Ordinal);

        options.Upstream.BaseUrl = "http://vllm:8000/v1";
        options.Upstream.Model = "m";
        using var inventory = NodeInventory.Create(options, NoEnvironment);
        Assert.Equal(new Uri("http://vllm:8000/v1"), inventory.Replicas.Single().Upstream!.BaseUri);
    }

    private static UpstreamOptions Valid() => new() { BaseUrl = "http://127.0.0.1:8000", Model = "m" };
}
