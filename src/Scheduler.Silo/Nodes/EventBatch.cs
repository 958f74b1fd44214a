using Scheduler.Abstractions.Jobs;

namespace Scheduler.Silo.Nodes;

/// <summary>Collects a step's job events by destination silo, so each silo gets one call per step.</summary>
internal sealed class EventBatch
{
    private readonly Dictionary<IJobEventSink, List<JobEventRecord>> _bySink = [];

    public void Add(IEnumerable<IJobEventSink> sinks, JobEventRecord e)
    {
        foreach (var sink in sinks)
        {
            if (!_bySink.TryGetValue(sink, out var list))
            {
                list = [];
                _bySink[sink] = list;
            }

            list.Add(e);
        }
    }

    public void Send()
    {
        foreach (var (sink, events) in _bySink)
        {
            sink.OnEvents([.. events]).Ignore();
        }
    }
}
