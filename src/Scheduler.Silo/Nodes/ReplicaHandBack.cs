using Scheduler.Abstractions.Placement;

namespace Scheduler.Silo.Nodes;

/// <summary>The jobs still running on one replica when its node's stream closed, for its placement to queue again.</summary>
internal sealed record ReplicaHandBack(string Model, string ReplicaId, RequeuedSequence[] Sequences);
