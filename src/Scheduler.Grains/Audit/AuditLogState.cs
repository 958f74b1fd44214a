using Scheduler.Abstractions.Audit;

namespace Scheduler.Grains.Audit;

[GenerateSerializer, Alias("scheduler.AuditLogState")]
public sealed class AuditLogState
{
    /// <summary>Oldest first.</summary>
    [Id(0)] public List<AuditEvent> Events { get; set; } = [];
}
