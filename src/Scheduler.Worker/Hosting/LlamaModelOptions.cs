namespace Scheduler.Worker.Hosting;

/// <summary>
/// The model and llama.cpp settings of replicas that run the "llama" engine (configuration section
/// <c>Worker:Model</c>). An accelerator group's own <see cref="AcceleratorOptions.ModelPath"/>,
/// <see cref="AcceleratorOptions.MaxSequences"/> and <see cref="AcceleratorOptions.KvCapacityTokens"/> take precedence.
/// </summary>
public sealed class LlamaModelOptions
{
    /// <summary>Path of the GGUF model file. The node loads it once, however many replicas serve it, and refuses to
    /// start when it is missing or not a GGUF model llama.cpp can load.</summary>
    public string? Path { get; set; }

    /// <summary>Sequences each replica runs at once: the llama.cpp sequence ids of its context.</summary>
    public int Slots { get; set; } = 4;

    /// <summary>Cells per slot of the default <see cref="ContextSize"/>: a long context is a ceiling a sequence may reach
    /// when others leave room, not memory every slot reserves (a 131,072-token context per slot would take tens of GB).</summary>
    public const int DefaultCellsPerSlot = 8192;

    /// <summary>KV-cache cells of each replica's context; by default <see cref="Slots"/> times the per-sequence context
    /// (the model's trained context, capped by <see cref="AcceleratorOptions.MaxContextTokens"/>) or
    /// <see cref="DefaultCellsPerSlot"/>, whichever is less. Each slot gets an equal share of them unless
    /// <see cref="KvUnified"/>; a sequence's context is capped by what it may use.</summary>
    public int? ContextSize { get; set; }

    /// <summary>
    /// False (the default): each slot has its own KV stream of <see cref="ContextSize"/> ÷ <see cref="Slots"/> cells,
    /// and a sequence's attention in a decode call spans only its own stream (the batch's longest stream, not every
    /// cell in use). True: one cache the slots share, so a long sequence may use cells short ones leave, but every
    /// token of a decode call attends over the cache's whole used range, which continuous admission keeps wide
    /// (docs/benchmarks.md measures both).
    /// </summary>
    public bool KvUnified { get; set; }

    /// <summary>llama.cpp's flash attention: null (the default) lets llama.cpp choose (it turns it on where it has a
    /// kernel, the CPU included), true or false forces it. docs/benchmarks.md measures both on the CPU backend.</summary>
    public bool? FlashAttention { get; set; }

    /// <summary>Admissions each replica holds beyond its <see cref="Slots"/> (announced as <c>queue_ahead</c>): the scheduler
    /// sends that many more while every slot is taken, and the engine starts one in the step after a slot frees, instead
    /// of leaving the slot empty until the scheduler hears of the finish and admits the next job (a round trip through
    /// the silo). 0 turns it off. A held job counts against the replica's KV cells at the scheduler like a running one.</summary>
    public int QueueAhead { get; set; } = 1;

    /// <summary>Most tokens one decode call takes: a step's decode tokens plus prefill chunks. At least <see cref="Slots"/>.</summary>
    public int BatchSize { get; set; } = 512;

    /// <summary>CPU threads of each replica's decode calls; llama.cpp's default when unset.</summary>
    public int? Threads { get; set; }

    /// <summary>Layers offloaded to the GPU when a GPU backend package (e.g. LLamaSharp.Backend.Cuda12) is installed;
    /// LLamaSharp's default when unset. The CPU backend ignores it.</summary>
    public int? GpuLayers { get; set; }
}
