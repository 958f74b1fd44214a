using Scheduler.Protos.V1;

namespace Scheduler.Worker.Engines;

/// <summary>Where an engine delivers its step reports.</summary>
internal interface IStepReportSink
{
    /// <summary>Takes one report. Called under the engine's lock, so it must not block.</summary>
    void Publish(StepReport report);
}
