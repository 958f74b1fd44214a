namespace Scheduler.Worker.Engines.Llama;

/// <summary>What a llama.cpp replica runs besides its profile's slots, KV cells and batch size: the loaded model
/// (shared with the node's other replicas of it), the CPU threads its decode calls use (null: llama.cpp's default),
/// and whether its slots share one KV cache (<see cref="Hosting.LlamaModelOptions.KvUnified"/>) or each has its own
/// equal share of the cells, whether its decode calls use flash attention (null: llama.cpp chooses), and how many
/// admissions it holds beyond its slots, to start the moment one frees (<see cref="Hosting.LlamaModelOptions.QueueAhead"/>).</summary>
internal sealed record LlamaReplicaSettings(LlamaModel Model, int? Threads, bool KvUnified = false, bool? FlashAttention = null, int QueueAhead = 0);
