namespace Scheduler.Worker.Engines.Llama;

/// <summary>What a llama.cpp replica runs besides its profile's slots, KV cells and batch size: the loaded model
/// (shared with the node's other replicas of it) and the CPU threads its decode calls use (null: llama.cpp's default).</summary>
internal sealed record LlamaReplicaSettings(LlamaModel Model, int? Threads);
