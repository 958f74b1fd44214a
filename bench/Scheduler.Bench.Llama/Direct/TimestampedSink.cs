using System.Diagnostics;
using System.Threading.Channels;
using Scheduler.Protos.V1;
using Scheduler.Worker.Engines;

namespace Scheduler.Bench.Llama.Direct;

/// <summary>Takes the engine's step reports with the time each was published, for the driver to read. Unbounded:
/// the workload is finite, and the driver must never slow the engine down.</summary>
internal sealed class TimestampedSink : IStepReportSink
{
    private readonly Channel<(StepReport Report, long At)> _reports = Channel.CreateUnbounded<(StepReport, long)>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    public ChannelReader<(StepReport Report, long At)> Reports => _reports.Reader;

    public bool TryPublish(StepReport report) => _reports.Writer.TryWrite((report, Stopwatch.GetTimestamp()));

    public ValueTask WaitForRoomAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
