using Scheduler.Abstractions.Jobs;

namespace Scheduler.Silo.Nodes;

/// <summary>Collects a step's job events by destination silo, so each silo gets one call per step.</summary>
internal sealed class EventBatch
{
    private readonly Dictionary<IJobEventSink, List<JobEventRecord>> _bySink = [];

    // By index, not foreach: an enumerator taken through the interface is boxed, once per event on the token path.
    public void Add(IReadOnlyList<IJobEventSink> sinks, JobEventRecord e)
    {
        for (var i = 0; i < sinks.Count; i++)
        {
            var sink = sinks[i];
            if (!_bySink.TryGetValue(sink, out var list))
            {
                list = [];
                _bySink[sink] = list;
            }

            list.Add(e);
        }
    }

    /// <summary>Sends each silo its events through <paramref name="deliver"/> (the silo's <c>JobEventHub.Deliver</c>,
    /// which hands its own events over without a grain call).</summary>
    public void Send(Action<IJobEventSink, JobEventRecord[]> deliver)
    {
        foreach (var (sink, events) in _bySink)
        {
            deliver(sink, [.. events]);
        }
    }
}
