namespace Scheduler.Policies.Profiles;

/// <summary>
/// What one replica remembers between steps for the contended prefill cap (<see cref="StepPlan"/>): when it last held a
/// sequence without a cap (<see cref="IPlannedSequence.ContendedPrefillTokens"/> 0, a tenant within its share).
/// </summary>
/// <remarks>
/// Why a memory and not only the batch as it is: a light tenant sends its next job a few milliseconds after its last
/// one finished, so between its jobs the replica holds only the flood's, and without the memory the first step after
/// that gap would be a full one of flood prefill, the very step the light prompt then arrives into.
/// </remarks>
public sealed class PrefillContention
{
    private double _uncappedHeldMs = double.NegativeInfinity;

    /// <summary>Milliseconds since the replica last held an uncapped sequence, as of a step starting at
    /// <paramref name="nowMs"/> (0 when it holds one now; +∞ when it never did).</summary>
    internal double SinceUncapped(bool holdsUncapped, double nowMs)
    {
        if (holdsUncapped)
        {
            _uncappedHeldMs = nowMs;
        }

        return nowMs - _uncappedHeldMs;
    }
}
