namespace Scheduler.Policies.Profiles;

/// <summary>
/// What one replica remembers between steps for the contended prefill cap (<see cref="StepPlan"/>): when a sequence
/// without a cap (<see cref="IPlannedSequence.ContendedPrefillTokens"/> 0, a tenant within its share) last had prefill
/// pending or left the batch, which is when a light tenant's next prompt is likely.
/// </summary>
/// <remarks>
/// Why not "while the batch holds an uncapped sequence": a light job decoding a long answer does not need short steps
/// (its first token has come), and on a fleet where light jobs run everywhere that rule capped the flood on every
/// replica nearly all the time (docs/benchmarks.md, "Contended prefill cap"). Why a memory and not only the batch as it
/// is: a light tenant sends its next job a few milliseconds after its last one finished, so between its jobs the replica
/// holds only the flood's, and the first step after that gap would be a full one of flood prefill, the very step the
/// light prompt then arrives into.
/// </remarks>
public sealed class PrefillContention
{
    private double _markedMs = double.NegativeInfinity;
    private int _uncappedHeld;

    /// <summary>Milliseconds since an uncapped sequence last had prefill pending or left the batch, as of a step starting
    /// at <paramref name="nowMs"/> in which <paramref name="uncappedHeld"/> uncapped sequences are held and
    /// <paramref name="uncappedPrefilling"/> of them have prefill pending (0 when one has; +∞ when neither ever
    /// happened).</summary>
    internal double SinceUncapped(int uncappedHeld, bool uncappedPrefilling, double nowMs)
    {
        if (uncappedPrefilling || uncappedHeld < _uncappedHeld)
        {
            _markedMs = nowMs;
        }

        _uncappedHeld = uncappedHeld;
        return nowMs - _markedMs;
    }
}
