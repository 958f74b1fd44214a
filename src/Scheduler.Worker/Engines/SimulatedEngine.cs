using Scheduler.Policies.Profiles;
using Scheduler.Protos.V1;

namespace Scheduler.Worker.Engines;

/// <summary>
/// An engine that batches like a real one (continuous batching with chunked prefill under a per-step token
/// budget, slot and KV-cache limits) and takes the time an accelerator profile says, but computes nothing:
/// token texts are <see cref="SyntheticTokens"/>.
/// </summary>
/// <remarks>
/// A step is planned and applied at once under the lock, then the loop waits out the step's duration and
/// publishes its report: tokens reach the scheduler when the step would have ended. Commands that arrive
/// during the wait take effect in the next step. The next step starts only once the report found room in the sink.
/// </remarks>
internal sealed partial class SimulatedEngine(
    string replicaId,
    AcceleratorProfile profile,
    IStepReportSink sink,
    TimeProvider time,
    ILogger<SimulatedEngine> logger) : IInferenceEngine
{
    // Past this lag behind the step timeline the engine stops catching up, so a stall does not turn into a burst.
    private static readonly TimeSpan MaxCatchUp = TimeSpan.FromMilliseconds(100);

    // Timers are about 1 ms coarse: shorter waits are carried on the timeline rather than slept one by one,
    // or a sped-up profile with sub-millisecond steps would run at timer speed.
    private static readonly TimeSpan MinSleep = TimeSpan.FromMilliseconds(1);

    private static readonly TimeSpan ThroughputWindow = TimeSpan.FromSeconds(5);

    private readonly Lock _lock = new();

    // Admission order, which is also prefill order.
    private readonly List<SimulatedSequence> _batch = [];
    private readonly Dictionary<string, SimulatedSequence> _byId = new(StringComparer.Ordinal);

    // Cancellations and rejections, reported with the next step.
    private readonly List<SequenceFinished> _pendingFinished = [];
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly ThroughputMeter _meter = new(time, ThroughputWindow);
    private long _kvUsed;
    private long _peakKv;
    private int _peakSequences;
    private long _rejected;
    private long _step;

    // Bumped by CancelAllSilently: a step planned before it must not be published after it.
    private long _epoch;

    // Timestamp at which the step being waited out ends on the engine's timeline.
    private long _due;

    public string ReplicaId => replicaId;

    public int RunningSequences
    {
        get
        {
            lock (_lock)
            {
                return _batch.Count;
            }
        }
    }

    public void Admit(IEnumerable<SequenceSpec> sequences)
    {
        lock (_lock)
        {
            foreach (var spec in sequences)
            {
                if (_byId.ContainsKey(spec.SequenceId))
                {
                    LogDuplicate(logger, replicaId, spec.SequenceId);
                    continue;
                }

                var sequence = new SimulatedSequence(spec);
                if (_batch.Count >= profile.MaxSequences || _kvUsed + sequence.KvTokens > profile.KvCapacityTokens)
                {
                    _rejected++;
                    _pendingFinished.Add(sequence.Finished(FinishReason.Rejected));
                    LogRejected(logger, replicaId, spec.SequenceId, _batch.Count, profile.MaxSequences, _kvUsed, sequence.KvTokens, profile.KvCapacityTokens);
                    continue;
                }

                _batch.Add(sequence);
                _byId.Add(sequence.Id, sequence);
                _kvUsed += sequence.KvTokens;
                _peakSequences = Math.Max(_peakSequences, _batch.Count);
                _peakKv = Math.Max(_peakKv, _kvUsed);
            }

            Wake();
        }
    }

    public void Cancel(IEnumerable<string> sequenceIds)
    {
        lock (_lock)
        {
            foreach (var id in sequenceIds)
            {
                if (_byId.TryGetValue(id, out var sequence))
                {
                    Remove(sequence);
                    _pendingFinished.Add(sequence.Finished(FinishReason.Cancelled));
                }
            }

            Wake();
        }
    }

    public void CancelAllSilently()
    {
        lock (_lock)
        {
            _batch.Clear();
            _byId.Clear();
            _pendingFinished.Clear();
            _kvUsed = 0;
            _epoch++;
        }
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var step = TakeStep();
            if (step is null)
            {
                await _wake.WaitAsync(cancellationToken);

                // Idle time is not a debt to catch up on.
                _due = time.GetTimestamp();
                continue;
            }

            await PaceAsync(step.StepMs, cancellationToken);
            EndStep(step);
            while (!TryPublish(step))
            {
                await sink.WaitForRoomAsync(cancellationToken);
            }
        }
    }

    public void Dispose() => _wake.Dispose();

    /// <summary>One step without waiting out its duration: the loop's body, for deterministic tests.</summary>
    internal StepReport? Step()
    {
        var step = TakeStep();
        if (step is null)
        {
            return null;
        }

        EndStep(step);
        TryPublish(step);
        return step.Report;
    }

    /// <summary>Plans and applies the next step with the shared <see cref="StepPlan"/>: a decode token for every
    /// prefilled sequence, then prefill chunks in admission order within what is left of the step's token budget.
    /// Null when there is nothing to do.</summary>
    private PlannedStep? TakeStep()
    {
        lock (_lock)
        {
            if (_batch.Count == 0 && _pendingFinished.Count == 0)
            {
                return null;
            }

            var report = new StepReport { ReplicaId = replicaId, Step = ++_step };
            report.Finished.AddRange(_pendingFinished);
            _pendingFinished.Clear();

            var plan = new StepPlan(profile, _batch.Count(s => s.Prefilled));
            List<SimulatedSequence>? done = null;
            foreach (var sequence in _batch)
            {
                if (!sequence.Prefilled)
                {
                    sequence.Prefill(plan.TakePrefill(sequence.PrefillRemaining));
                }

                // The step that completes a prefill also yields the first token, unless nothing is left to generate.
                if (sequence.Prefilled && sequence.EndReason is null)
                {
                    var index = sequence.NextTokenIndex;
                    report.Tokens.Add(new SequenceTokens { SequenceId = sequence.Id, FirstTokenIndex = index, Text = sequence.EmitToken(), TokenCount = 1 });
                }

                if (sequence.EndReason is not null)
                {
                    (done ??= []).Add(sequence);
                }
            }

            foreach (var sequence in done ?? [])
            {
                Remove(sequence);
                report.Finished.Add(sequence.Finished(sequence.EndReason!.Value));
            }

            return new PlannedStep(report, plan.DurationMs, _epoch);
        }
    }

    /// <summary>Counts the step's tokens as produced now, when the step ends.</summary>
    private void EndStep(PlannedStep step)
    {
        lock (_lock)
        {
            _meter.Record(step.Report.Tokens.Count);
        }
    }

    /// <summary>Hands the report to the sink with the capacity as it is now. True when done: delivered, or dropped
    /// because the sequences it is about were cancelled silently meanwhile; false when the sink is full.</summary>
    private bool TryPublish(PlannedStep step)
    {
        lock (_lock)
        {
            if (step.Epoch != _epoch)
            {
                return true;
            }

            step.Report.StepMs = step.StepMs;
            step.Report.Capacity = new ReplicaCapacity
            {
                RunningSequences = _batch.Count,
                FreeSequenceSlots = profile.MaxSequences - _batch.Count,
                KvTokensUsed = _kvUsed,
                FreeKvTokens = profile.KvCapacityTokens - _kvUsed,
                PeakSequences = _peakSequences,
                PeakKvTokens = _peakKv,
                RejectedAdmissions = _rejected,
                OutputTokensPerSecond = _meter.TokensPerSecond(),
            };
            return sink.TryPublish(step.Report);
        }
    }

    /// <summary>Waits until the step ends on the engine's timeline; an instant step only yields the thread.</summary>
    private async Task PaceAsync(double stepMs, CancellationToken cancellationToken)
    {
        var now = time.GetTimestamp();
        if (stepMs <= 0)
        {
            _due = now;
            await Task.Yield();
            return;
        }

        if (time.GetElapsedTime(_due, now) > MaxCatchUp)
        {
            _due = now;
        }

        _due += (long)(stepMs * time.TimestampFrequency / 1000.0);
        var wait = time.GetElapsedTime(now, _due);
        if (wait >= MinSleep)
        {
            await Task.Delay(wait, time, cancellationToken);
        }
        else
        {
            await Task.Yield();
        }
    }

    private void Remove(SimulatedSequence sequence)
    {
        _batch.Remove(sequence);
        _byId.Remove(sequence.Id);
        _kvUsed -= sequence.KvTokens;
    }

    // Called under the lock, so Release never overflows the semaphore's maximum of 1.
    private void Wake()
    {
        if (_wake.CurrentCount == 0)
        {
            _wake.Release();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replica {ReplicaId} rejected sequence {SequenceId}: {Running}/{MaxSequences} slots, {KvUsed}+{KvTokens}/{KvCapacity} KV tokens (the scheduler admitted past capacity)")]
    private static partial void LogRejected(ILogger logger, string replicaId, string sequenceId, int running, int maxSequences, long kvUsed, long kvTokens, long kvCapacity);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replica {ReplicaId} ignored a second admission of running sequence {SequenceId}")]
    private static partial void LogDuplicate(ILogger logger, string replicaId, string sequenceId);

    private sealed record PlannedStep(StepReport Report, double StepMs, long Epoch);
}
