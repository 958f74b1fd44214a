using Scheduler.Policies.Profiles;

namespace Scheduler.Worker.Hosting;

/// <summary>One replica the node runs: a model on one accelerator, stepping with <paramref name="EngineProfile"/>
/// (the accelerator's profile after the node's speed-up).</summary>
internal sealed record ReplicaDefinition(string ReplicaId, string Model, string AcceleratorId, AcceleratorProfile EngineProfile, int MaxContextTokens);
