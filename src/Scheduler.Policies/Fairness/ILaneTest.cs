namespace Scheduler.Policies.Fairness;

/// <summary>A test <see cref="CounterIndex.FirstAccepted"/> asks of lanes by ordinal, as a struct so a pick allocates
/// nothing.</summary>
internal interface ILaneTest
{
    bool Accepts(int ordinal);
}
