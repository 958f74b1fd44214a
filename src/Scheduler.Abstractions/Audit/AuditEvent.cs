namespace Scheduler.Abstractions.Audit;

/// <summary>One admin action, as the audit log keeps it.</summary>
/// <param name="At">When it was done (the silo's clock).</param>
/// <param name="Actor">Which admin credential did it: a fingerprint of the key, never the key.</param>
/// <param name="Peer">Where the call came from, as the server saw it (e.g. "ipv4:10.0.0.7:51234").</param>
/// <param name="Action">What was done, e.g. "tenant.put", "apikey.create", "accelerator.cordon".</param>
/// <param name="Target">What it was done to, e.g. the tenant or accelerator id.</param>
/// <param name="Outcome">"ok", or the status code it failed with, e.g. "NotFound".</param>
/// <param name="Detail">What changed, in a few words; never a secret.</param>
[GenerateSerializer, Alias("scheduler.AuditEvent")]
public sealed record AuditEvent(
    [property: Id(0)] DateTimeOffset At,
    [property: Id(1)] string Actor,
    [property: Id(2)] string Peer,
    [property: Id(3)] string Action,
    [property: Id(4)] string Target,
    [property: Id(5)] string Outcome,
    [property: Id(6)] string Detail);
