using Scheduler.Abstractions.Audit;

namespace Scheduler.Grains.Audit;

/// <summary>The audit log: the last <see cref="IAuditLogGrain.Capacity"/> admin actions, written through on every append so an action
/// an admin saw succeed is on record even if the silo dies next. Appends interleave and share writes
/// (<see cref="CoalescedWrites"/>): a burst of admin calls costs a few writes of the log, not one each in turn.</summary>
internal sealed class AuditLogGrain(
    [PersistentState("audit", StorageNames.Default)] IPersistentState<AuditLogState> state,
    OwnedStateWrites writes) : Grain, IAuditLogGrain
{
    private readonly CoalescedWrites _writes = new(() => writes.Write(state));

    public Task Append(AuditEvent auditEvent)
    {
        var events = state.State.Events;
        events.Add(auditEvent);
        if (events.Count > IAuditLogGrain.Capacity)
        {
            events.RemoveRange(0, events.Count - IAuditLogGrain.Capacity);
        }

        return _writes.AfterNextWrite();
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
