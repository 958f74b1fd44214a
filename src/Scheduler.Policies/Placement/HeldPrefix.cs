namespace Scheduler.Policies.Placement;

/// <summary>A replica listed as holding a job's prefix, with the prompt tokens its index expects cached there.</summary>
internal readonly record struct HeldPrefix(ReplicaEntry Entry, int CachedTokens);
