using Scheduler.Abstractions.Fleet;

namespace Scheduler.Silo.Nodes;

/// <summary>What a node link took of an admitted batch: the admission events for the jobs' watchers, and the sequences
/// its node is to start — all but those it already runs on the same replica (a repeated dispatch).</summary>
internal sealed record AdmittedBatch(EventBatch Events, AdmittedSequence[] Started);
