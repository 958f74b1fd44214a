using Microsoft.Extensions.Logging;
using Orleans.Storage;

namespace Scheduler.Grains;

/// <summary>State writes of the scheduler's grains: each activation is the only writer of its state, unless its silo was
/// declared dead.</summary>
/// <remarks>
/// On a version conflict the write takes the stored version and writes again. Why: a write that timed out while Redis
/// stalled can still be applied when Redis goes on, which leaves storage one version ahead of the activation, and every
/// later write of the activation would fail until it is deactivated (a tenant's counts and a job's outcome would then
/// never be written). Orleans keeps one activation per grain, so the version it conflicts with is normally its own
/// earlier write, and what it holds in memory is newer.
/// <para>
/// The exception is a silo frozen (SIGSTOP, a stalled VM) past the time the cluster declared it dead: its grains were
/// activated again on the survivors, which wrote newer state, and when it wakes it runs for a moment before it learns it
/// is dead, carrying out what it was told before the freeze. Written through, its stale state would win. So before
/// writing through, the membership table is read again, and a silo the table lists as dead refuses the write (the
/// conflict is thrown to the caller); reading the table also makes Orleans stop such a silo. A conflict is rare, so the
/// read costs nothing on the path of a healthy write.
/// </para>
/// </remarks>
public sealed partial class OwnedStateWrites(
    IClusterMembershipService membership,
    ILocalSiloDetails localSilo,
    ILogger<OwnedStateWrites> logger)
{
    /// <summary>How long the membership table is waited for before the silo's own view decides.</summary>
    internal static readonly TimeSpan MembershipReadTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Writes <paramref name="state"/>; on a version conflict, writes over the stored version unless this silo
    /// was declared dead.</summary>
    public async Task Write<T>(IPersistentState<T> state)
    {
        try
        {
            await state.WriteStateAsync();
        }
        catch (InconsistentStateException conflict)
        {
            if (await DeclaredDead())
            {
                LogRefusedAsDead(logger, typeof(T).Name, localSilo.SiloAddress, conflict);
                throw;
            }

            var held = state.State;
            await state.ReadStateAsync();
            state.State = held;
            await state.WriteStateAsync();
        }
    }

    private async Task<bool> DeclaredDead()
    {
        using var timeout = new CancellationTokenSource(MembershipReadTimeout);
        try
        {
            // default: read the table now, whatever version this silo last saw.
            await membership.Refresh(default, timeout.Token);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The table cannot be read (Redis still stalled, which is the case the write-through exists for): the
            // silo's own view decides, which still says dead once it has been told.
            LogMembershipUnread(logger, ex);
        }

        return membership.CurrentSnapshot.GetSiloStatus(localSilo.SiloAddress) == SiloStatus.Dead;
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Refused to write {StateType} over a newer version: the membership table lists this silo ({Silo}) as dead, so the grain was activated again elsewhere and its state there is newer")]
    private static partial void LogRefusedAsDead(ILogger logger, string stateType, SiloAddress silo, Exception conflict);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "A state write met a newer version and the membership table could not be read to check this silo is still a member; writing over it as the silo's own view allows")]
    private static partial void LogMembershipUnread(ILogger logger, Exception ex);
}
