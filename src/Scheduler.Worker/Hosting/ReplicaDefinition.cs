using Scheduler.Policies.Profiles;
using Scheduler.Worker.Engines;
using Scheduler.Worker.Engines.Llama;
using Scheduler.Worker.Engines.Upstream;

namespace Scheduler.Worker.Hosting;

/// <summary>One replica the node runs: a model on one accelerator, stepping with <paramref name="EngineProfile"/>
/// (the accelerator's profile after the node's speed-up, or a llama replica's slots, KV cells and batch size). A
/// replica with <paramref name="Llama"/> settings runs llama.cpp; one with <paramref name="Upstream"/> settings forwards
/// to an OpenAI-compatible server; one with neither runs the simulated engine. A simulated or llama replica runs its
/// step's prefill in micro-batches of <paramref name="PrefillMicroBatchTokens"/> (0: one call).</summary>
internal sealed record ReplicaDefinition(
    string ReplicaId,
    string Model,
    string AcceleratorId,
    AcceleratorProfile EngineProfile,
    int MaxContextTokens,
    LlamaReplicaSettings? Llama = null,
    UpstreamReplicaSettings? Upstream = null,
    int PrefillMicroBatchTokens = 0)
{
    /// <summary>The engine's name, as in settings and <c>NodeDescription.engine</c>.</summary>
    public string Engine => Llama is not null ? EngineNames.Llama : Upstream is not null ? EngineNames.Upstream : EngineNames.Simulated;
}
