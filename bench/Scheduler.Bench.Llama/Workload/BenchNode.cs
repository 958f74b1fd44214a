using Scheduler.Worker.Engines;
using Scheduler.Worker.Hosting;

namespace Scheduler.Bench.Llama.Workload;

/// <summary>The one worker configuration every path runs: a node with one llama replica of the tiny model, so the
/// engine driven directly and the engine behind the scheduler are built from the same options by the same code.</summary>
internal static class BenchNode
{
    public const string Model = "tiny";

    public const string Token = "bench-node-token";

    /// <summary>Prompt plus the longest output, with room to spare: each slot's own KV stream, unless unified.</summary>
    public const int ContextTokens = 1024;

    public static WorkerNodeOptions Options(string modelPath, LlamaBenchSettings settings, string? schedulerAddress = null)
    {
        var options = new WorkerNodeOptions
        {
            NodeId = "bench-llama",
            SchedulerAddress = schedulerAddress,
            NodeToken = Token,
            Engine = EngineNames.Llama,
        };
        options.Model.Path = modelPath;
        options.Model.Slots = settings.Slots;
        options.Model.Threads = settings.Threads;
        options.Model.KvUnified = settings.KvUnified;
        options.Model.FlashAttention = settings.FlashAttention;
        options.Model.QueueAhead = settings.QueueAhead;
        options.Accelerators.Add(new AcceleratorOptions { Product = "L4", Model = Model, MaxContextTokens = ContextTokens });
        return options;
    }
}
