using Scheduler.Protos.V1;

namespace Scheduler.Worker.Engines;

/// <summary>Where an engine delivers its step reports. It may be full: an engine never runs further ahead of
/// its consumer than the sink holds, so an instant engine cannot flood memory faster than the network drains it.</summary>
internal interface IStepReportSink
{
    /// <summary>Takes the report, or returns false when full. Called under the engine's lock, so it must not block.</summary>
    bool TryPublish(StepReport report);

    /// <summary>Completes when <see cref="TryPublish"/> may succeed again, or the consumer changed.</summary>
    ValueTask WaitForRoomAsync(CancellationToken cancellationToken);
}
