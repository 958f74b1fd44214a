using System.Threading.Channels;
using Scheduler.Protos.V1;
using Scheduler.Worker.Engines;

namespace Scheduler.Worker.Services;

/// <summary>Delivers the engines' step reports to the Execute stream that is open. With none open nothing runs,
/// so a report that still comes (from a step under way when the stream closed) has no one to go to and is dropped.</summary>
internal sealed class StepReportRouter : IStepReportSink
{
    private ChannelWriter<ExecuteEvent>? _target;

    public void Attach(ChannelWriter<ExecuteEvent> target) => Volatile.Write(ref _target, target);

    /// <summary>Detaches <paramref name="target"/> if it is still the one attached.</summary>
    public void Detach(ChannelWriter<ExecuteEvent> target) => Interlocked.CompareExchange(ref _target, null, target);

    public bool TryPublish(StepReport report) =>
        Volatile.Read(ref _target) is not { } target || target.TryWrite(new ExecuteEvent { Step = report });

    public async ValueTask WaitForRoomAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _target) is { } target)
        {
            // False means the stream closed; the engine then finds its report stale and drops it.
            await target.WaitToWriteAsync(cancellationToken);
        }
    }
}
