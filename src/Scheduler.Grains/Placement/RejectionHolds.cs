namespace Scheduler.Grains.Placement;

/// <summary>
/// Replicas whose engine refused a sequence, each held until <paramref name="hold"/> has passed since the refusal
/// unless the placement ends the hold sooner (a sequence finished there, the node registered anew or was lost).
/// Plain code with no clock of its own: the owner passes the time (an injected <see cref="TimeProvider"/>); a timer
/// only wakes the owner at <see cref="NextDue"/>.
/// </summary>
internal sealed class RejectionHolds(TimeSpan hold)
{
    private readonly Dictionary<string, DateTimeOffset> _until = new(StringComparer.Ordinal);

    /// <summary>When the next hold passes, if any replica is held.</summary>
    public DateTimeOffset? NextDue => _until.Count == 0 ? null : _until.Values.Min();

    public bool IsHeld(string replicaId) => _until.ContainsKey(replicaId);

    /// <summary>Holds a replica from <paramref name="now"/> for the hold time.</summary>
    public void Begin(string replicaId, DateTimeOffset now) => _until[replicaId] = now + hold;

    /// <summary>Ends a replica's hold. False when it was not held.</summary>
    public bool End(string replicaId) => _until.Remove(replicaId);

    /// <summary>Ends and returns the holds that have passed at <paramref name="now"/>.</summary>
    public List<string>? TakePassed(DateTimeOffset now)
    {
        List<string>? passed = null;
        foreach (var (replicaId, until) in _until)
        {
            if (until <= now)
            {
                (passed ??= []).Add(replicaId);
            }
        }

        foreach (var replicaId in passed ?? [])
        {
            _until.Remove(replicaId);
        }

        return passed;
    }
}
