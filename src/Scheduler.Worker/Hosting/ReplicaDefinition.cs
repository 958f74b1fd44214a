using Scheduler.Policies.Profiles;
using Scheduler.Worker.Engines.Llama;

namespace Scheduler.Worker.Hosting;

/// <summary>One replica the node runs: a model on one accelerator, stepping with <paramref name="EngineProfile"/>
/// (the accelerator's profile after the node's speed-up, or a llama replica's slots, KV cells and batch size). A
/// replica with <paramref name="Llama"/> settings runs llama.cpp; one without, the simulated engine.</summary>
internal sealed record ReplicaDefinition(
    string ReplicaId,
    string Model,
    string AcceleratorId,
    AcceleratorProfile EngineProfile,
    int MaxContextTokens,
    LlamaReplicaSettings? Llama = null);
