using Orleans.Storage;

namespace Scheduler.Grains;

/// <summary>State writes of the scheduler's grains: each activation is the only writer of its state.</summary>
internal static class OwnedStateWrites
{
    /// <summary>
    /// Writes the state; on a version conflict, takes the stored version and writes again. Why: a write that timed out
    /// while Redis stalled can still be applied when Redis goes on, which leaves storage one version ahead of the
    /// activation, and every later write of the activation would fail until it is deactivated (a tenant's counts and a
    /// job's outcome would then never be written). Orleans keeps one activation per grain, so the version it conflicts
    /// with is its own earlier write, and what it holds in memory is newer.
    /// </summary>
    public static async Task WriteOwnedStateAsync<T>(this IPersistentState<T> state)
    {
        try
        {
            await state.WriteStateAsync();
        }
        catch (InconsistentStateException)
        {
            var held = state.State;
            await state.ReadStateAsync();
            state.State = held;
            await state.WriteStateAsync();
        }
    }
}
