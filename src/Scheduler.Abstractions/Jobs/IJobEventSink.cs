namespace Scheduler.Abstractions.Jobs;

/// <summary>
/// One per silo: receives the events of every job whose client streams that silo holds. A node connection
/// sends one call per destination silo per engine step, whatever the number of jobs — the token path's only hop.
/// </summary>
public interface IJobEventSink : IGrainObserver
{
    // [Immutable]: senders build a fresh array per call and never touch it again, so a sink in the same silo gets it
    // without a copy.
    [OneWay]
    Task OnEvents([Immutable] JobEventRecord[] events);
}
