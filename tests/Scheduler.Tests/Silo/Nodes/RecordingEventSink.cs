using System.Collections.Concurrent;
using Scheduler.Abstractions.Jobs;

namespace Scheduler.Tests.Silo.Nodes;

/// <summary>Stands for one silo's job event hub: keeps every call it gets (from any thread: a node link's read loop and
/// its settlements call it while a test reads).</summary>
internal sealed class RecordingEventSink : IJobEventSink
{
    public ConcurrentQueue<JobEventRecord[]> Calls { get; } = new();

    public IEnumerable<JobEventRecord> Events => Calls.SelectMany(c => c);

    public Task OnEvents(JobEventRecord[] events)
    {
        Calls.Enqueue(events);
        return Task.CompletedTask;
    }
}
