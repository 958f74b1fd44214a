using Scheduler.Abstractions.Audit;

namespace Scheduler.Grains.Audit;

/// <summary>The audit log: the last <see cref="Capacity"/> admin actions, written through on every append so an action
/// an admin saw succeed is on record even if the silo dies next.</summary>
internal sealed class AuditLogGrain(
    [PersistentState("audit", StorageNames.Default)] IPersistentState<AuditLogState> state) : Grain, IAuditLogGrain
{
    /// <summary>Admin actions are rare (people, not programs, make them): this keeps weeks of them in a state small
    /// enough to write on every append.</summary>
    public const int Capacity = 2000;

    public async Task Append(AuditEvent auditEvent)
    {
        var events = state.State.Events;
        events.Add(auditEvent);
        if (events.Count > Capacity)
        {
            events.RemoveRange(0, events.Count - Capacity);
        }

        await state.WriteOwnedStateAsync();
    }

    public Task<AuditEvent[]> List(DateTimeOffset? since, string? action, int limit)
    {
        var matching = Enumerable.Reverse(state.State.Events)
            .Where(e => since is null || e.At >= since)
            .Where(e => string.IsNullOrEmpty(action) || (action.EndsWith('.') ? e.Action.StartsWith(action, StringComparison.Ordinal) : e.Action == action))
            .Take(limit);
        return Task.FromResult(matching.ToArray());
    }
}
