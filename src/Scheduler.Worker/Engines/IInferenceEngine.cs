using Scheduler.Protos.V1;

namespace Scheduler.Worker.Engines;

/// <summary>
/// One replica: one model on one accelerator, batching at the iteration level. Commands may arrive from any
/// thread at any time; they take effect between steps. Every step's outcome goes to the engine's
/// <see cref="IStepReportSink"/> as one <see cref="StepReport"/>. Disposed once its step loop has ended.
/// </summary>
internal interface IInferenceEngine : IDisposable
{
    string ReplicaId { get; }

    int RunningSequences { get; }

    /// <summary>Runs nothing, holds nothing ahead, and has published every finish (<see cref="RunningBatch{TSequence}.Settled"/>).</summary>
    bool Settled { get; }

    /// <summary>Adds sequences to the running batch; one that does not fit is finished as <see cref="FinishReason.Rejected"/>.</summary>
    void Admit(IEnumerable<SequenceSpec> sequences);

    /// <summary>Stops the given sequences, freeing their slots and KV cache at once; each is reported finished with
    /// <paramref name="reason"/> (<see cref="FinishReason.Cancelled"/>, or <see cref="FinishReason.Preempted"/> when the
    /// scheduler makes room for another) in the next report. Unknown ids are ignored.</summary>
    void Cancel(IEnumerable<string> sequenceIds, FinishReason reason);

    /// <summary>Drops every sequence without reporting anything about them, not even from a step already under way.</summary>
    void CancelAllSilently();

    /// <summary>Runs the step loop until <paramref name="cancellationToken"/> fires.</summary>
    Task RunAsync(CancellationToken cancellationToken);
}
