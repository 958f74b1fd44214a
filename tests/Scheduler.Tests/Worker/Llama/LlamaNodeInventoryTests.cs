using Scheduler.Testing;
using Scheduler.Worker.Hosting;

namespace Scheduler.Tests.Worker.Llama;

/// <summary>A node configured for the llama engine describes its replicas from the GGUF model, and says what is wrong
/// with a model setting before anything starts.</summary>
public sealed class LlamaNodeInventoryTests(TinyModelFixture tiny) : IClassFixture<TinyModelFixture>
{
    [Fact]
    public void Describe_TakesContextFromTheModel_AndSlotsKvAndBatchFromTheOptions()
    {
        var options = new WorkerNodeOptions { NodeId = "n", Engine = "llama" };
        options.Model.Path = tiny.Path;
        options.Model.Slots = 3;
        options.Model.BatchSize = 96;
        options.Accelerators.Add(new AcceleratorOptions { Product = "L4", Count = 2, Model = "tiny", MaxContextTokens = 100_000 });
        options.Accelerators.Add(new AcceleratorOptions { Product = "L4", Model = "tiny-short", MaxContextTokens = 512, KvCapacityTokens = 700 });
        using var inventory = NodeInventory.Create(options);

        var description = inventory.Describe("http://127.0.0.1:1");

        Assert.Equal("llama", description.Engine);
        Assert.Equal(
            [
                ("n-l4-0/tiny", 3, 3L * TinyGguf.TrainedContext, TinyGguf.TrainedContext),
                ("n-l4-1/tiny", 3, 3L * TinyGguf.TrainedContext, TinyGguf.TrainedContext),
                // Each slot's own stream: 700 cells give 3 slots 233 each, and no sequence more.
                ("n-l4-2/tiny-short", 3, 699L, 233),
            ],
            description.Replicas.Select(r => (r.ReplicaId, r.MaxSequences, r.KvCapacityTokens, r.MaxContextTokens)));
        Assert.All(description.Accelerators, a => Assert.Equal((3, 96), (a.Profile.MaxSequences, a.Profile.StepTokenBudget)));

        // One model in memory, shared by the three replicas.
        Assert.Single(inventory.Replicas.Select(r => r.Llama!.Model).Distinct());
    }

    [Theory]
    [InlineData(null)]
    [InlineData(false)]
    [InlineData(true)]
    public void Create_CarriesTheFlashAttentionSettingToItsReplicas(bool? flashAttention)
    {
        var options = new WorkerNodeOptions { NodeId = "n", Engine = "llama" };
        options.Model.Path = tiny.Path;
        options.Model.Slots = 2;
        options.Model.FlashAttention = flashAttention;
        options.Accelerators.Add(new AcceleratorOptions { Product = "L4", Model = "tiny-short", MaxContextTokens = 512, KvCapacityTokens = 1024 });
        using var inventory = NodeInventory.Create(options);

        Assert.Equal(flashAttention, Assert.Single(inventory.Replicas).Llama!.FlashAttention);
    }

    [Fact]
    public void Create_GivesLlamaReplicasTheirPrefillMicroBatch_256UnlessSet()
    {
        var options = new WorkerNodeOptions { NodeId = "n", Engine = "llama" };
        options.Model.Path = tiny.Path;
        options.Model.Slots = 2;
        options.Accelerators.Add(new AcceleratorOptions { Product = "L4", Model = "tiny", MaxContextTokens = 512, KvCapacityTokens = 1024 });
        options.Accelerators.Add(new AcceleratorOptions { Product = "L4", Model = "tiny-one-call", MaxContextTokens = 512, KvCapacityTokens = 1024, PrefillMicroBatchTokens = 0 });
        options.Accelerators.Add(new AcceleratorOptions { Product = "L4", Model = "tiny-64", MaxContextTokens = 512, KvCapacityTokens = 1024, PrefillMicroBatchTokens = 64 });
        using var inventory = NodeInventory.Create(options);

        Assert.Equal([256, 0, 64], inventory.Replicas.Select(r => r.PrefillMicroBatchTokens));
    }

    [Fact]
    public void Describe_WithAUnifiedKvCache_LetsOneSequenceReachAllItsCells()
    {
        var options = new WorkerNodeOptions { NodeId = "n", Engine = "llama" };
        options.Model.Path = tiny.Path;
        options.Model.Slots = 3;
        options.Model.KvUnified = true;
        options.Accelerators.Add(new AcceleratorOptions { Product = "L4", Model = "tiny-short", MaxContextTokens = 512, KvCapacityTokens = 700 });
        using var inventory = NodeInventory.Create(options);

        var replica = Assert.Single(inventory.Describe("http://127.0.0.1:1").Replicas);

        Assert.Equal((3, 700L, 512), (replica.MaxSequences, replica.KvCapacityTokens, replica.MaxContextTokens));
        Assert.True(Assert.Single(inventory.Replicas).Llama!.KvUnified);
    }

    [Fact]
    public void Create_WithFewerKvCellsThanSlots_NamesBothWays()
    {
        var options = new WorkerNodeOptions { Engine = "llama" };
        options.Model.Path = tiny.Path;
        options.Model.Slots = 4;
        options.Accelerators.Add(new AcceleratorOptions { Product = "L4", Model = "tiny", KvCapacityTokens = 3 });

        var error = Assert.Throws<ArgumentException>(() => NodeInventory.Create(options));

        Assert.StartsWith(
            "Worker:Accelerators:0: 3 KV cells cannot give each of 4 slots its own cells; set more cells or Worker:Model:KvUnified=true.",
            error.Message,
            StringComparison.Ordinal);
    }

    [Fact]
    public void Describe_NamesBothEngines_WhenOneGroupRunsLlama()
    {
        var options = new WorkerNodeOptions { NodeId = "n" };
        options.Accelerators.Add(new AcceleratorOptions { Product = "H100" });
        options.Accelerators.Add(new AcceleratorOptions { Product = "L4", Engine = "LLAMA", ModelPath = tiny.Path, MaxSequences = 2 });
        using var inventory = NodeInventory.Create(options);

        var description = inventory.Describe("http://127.0.0.1:1");

        Assert.Equal("llama+simulated", description.Engine);
        Assert.Null(inventory.Replicas[0].Llama);
        Assert.Equal(2, description.Replicas[1].MaxSequences);
    }

    [Fact]
    public void Create_WithoutAModelPath_NamesTheSetting()
    {
        var error = Assert.Throws<ArgumentException>(() => NodeInventory.Create(new WorkerNodeOptions { Engine = "llama" }));

        Assert.Contains("Worker:Model:Path", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_WithAMissingFile_NamesTheSettingAndThePath()
    {
        var options = new WorkerNodeOptions();
        options.Accelerators.Add(new AcceleratorOptions { Engine = "llama", ModelPath = "/no/such/model.gguf" });

        var error = Assert.Throws<ArgumentException>(() => NodeInventory.Create(options));

        Assert.Equal("Worker:Accelerators:0:ModelPath \"/no/such/model.gguf\": no such file. (Parameter 'path')", error.Message);
    }

    [Fact]
    public void Create_WithADirectory_SaysItIsOne_NotThatNothingIsThere()
    {
        var directory = Path.GetDirectoryName(tiny.Path)!;
        var options = new WorkerNodeOptions { Engine = "llama" };
        options.Model.Path = directory;

        var error = Assert.Throws<ArgumentException>(() => NodeInventory.Create(options));

        Assert.Equal($"Worker:Model:Path \"{directory}\" is a directory: name the GGUF file in it. (Parameter 'path')", error.Message);
    }

    [Fact]
    public void Create_WithAFileThatIsNotGguf_SaysSo()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "not a model");
            var options = new WorkerNodeOptions { Engine = "llama" };
            options.Model.Path = path;

            var error = Assert.Throws<ArgumentException>(() => NodeInventory.Create(options));

            Assert.Contains("Worker:Model:Path", error.Message, StringComparison.Ordinal);
            Assert.Contains("is not a GGUF model file", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Create_WithATruncatedGguf_SaysLlamaCppCannotLoadIt()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(path, File.ReadAllBytes(tiny.Path)[..4_000]);
            var options = new WorkerNodeOptions { Engine = "llama" };
            options.Model.Path = path;

            var error = Assert.Throws<ArgumentException>(() => NodeInventory.Create(options));

            Assert.Contains("llama.cpp could not load the model", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Create_WithAGgufOfAnArchitectureLlamaCppDoesNotKnow_SaysSoInLlamaCppsWords()
    {
        // The refusal sent the operator to llama.cpp's log, which has no logger yet while the node starts: nothing said why.
        var path = Path.GetTempFileName();
        try
        {
            var model = File.ReadAllBytes(tiny.Path);
            var key = "general.architecture"u8;
            var value = model.AsSpan().IndexOf(key) + key.Length + sizeof(uint) + sizeof(ulong); // past the value's type and length
            "llamx"u8.CopyTo(model.AsSpan(value));
            File.WriteAllBytes(path, model);
            var options = new WorkerNodeOptions { Engine = "llama" };
            options.Model.Path = path;

            var error = Assert.Throws<ArgumentException>(() => NodeInventory.Create(options));

            Assert.StartsWith($"Worker:Model:Path \"{path}\": llama.cpp could not load the model", error.Message, StringComparison.Ordinal);
            Assert.Contains("unknown model architecture: 'llamx'", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("vllm", 4, 512, "Worker:Accelerators:0:Engine (or Worker:Engine) \"vllm\" is not one of simulated, llama, upstream.")]
    [InlineData("llama", 8, 4, "Worker:Model:BatchSize (4) must be at least the slots per replica (8)")]
    public void Create_WithBadEngineSettings_NamesTheSetting(string engine, int slots, int batchSize, string message)
    {
        var options = new WorkerNodeOptions { Engine = engine };
        options.Model.Path = tiny.Path;
        options.Model.Slots = slots;
        options.Model.BatchSize = batchSize;

        var error = Assert.Throws<ArgumentException>(() => NodeInventory.Create(options));

        Assert.StartsWith(message, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    public void Describe_AnnouncesTheQueueAhead_ThatItsEnginesHold(int queueAhead)
    {
        var options = new WorkerNodeOptions { NodeId = "n", Engine = "llama" };
        options.Model.Path = tiny.Path;
        options.Model.Slots = 3;
        options.Model.QueueAhead = queueAhead;
        options.Accelerators.Add(new AcceleratorOptions { Product = "L4", Model = "tiny-short", MaxContextTokens = 512, KvCapacityTokens = 768 });
        using var inventory = NodeInventory.Create(options);

        Assert.Equal(queueAhead, Assert.Single(inventory.Describe("http://127.0.0.1:1").Replicas).QueueAhead);
        Assert.Equal(queueAhead, Assert.Single(inventory.Replicas).Llama!.QueueAhead);
    }

    [Fact]
    public void Describe_SimulatedReplicas_HoldNothingAhead()
    {
        using var inventory = NodeInventory.Create(new WorkerNodeOptions { NodeId = "n" });

        Assert.All(inventory.Describe("http://127.0.0.1:1").Replicas, r => Assert.Equal(0, r.QueueAhead));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(5)]
    public void Create_WithAQueueAheadOutsideZeroToSlots_NamesTheSetting(int queueAhead)
    {
        var options = new WorkerNodeOptions { Engine = "llama" };
        options.Model.Path = tiny.Path;
        options.Model.Slots = 4;
        options.Model.QueueAhead = queueAhead;

        var error = Assert.Throws<ArgumentException>(() => NodeInventory.Create(options));

        Assert.StartsWith($"Worker:Model:QueueAhead must be between 0 and the slots per replica (4), not {queueAhead}.", error.Message, StringComparison.Ordinal);
    }
}
