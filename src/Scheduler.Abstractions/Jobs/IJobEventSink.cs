namespace Scheduler.Abstractions.Jobs;

/// <summary>
/// One per silo: receives the events of every job whose client streams that silo holds. A node connection
/// sends one call per destination silo per engine step, whatever the number of jobs — the token path's only hop.
/// </summary>
public interface IJobEventSink : IGrainObserver
{
    [OneWay]
    Task OnEvents(JobEventRecord[] events);
}
