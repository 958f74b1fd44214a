using Scheduler.Abstractions.Jobs;

namespace Scheduler.Tests.Silo.Nodes;

/// <summary>Stands for one silo's job event hub: keeps every call it gets.</summary>
internal sealed class RecordingEventSink : IJobEventSink
{
    public List<JobEventRecord[]> Calls { get; } = [];

    public IEnumerable<JobEventRecord> Events => Calls.SelectMany(c => c);

    public Task OnEvents(JobEventRecord[] events)
    {
        Calls.Add(events);
        return Task.CompletedTask;
    }
}
