using Scheduler.Policies.Prefix;
using Scheduler.Policies.Profiles;
using Scheduler.Protos.V1;
using Scheduler.Worker.Telemetry;

namespace Scheduler.Worker.Engines;

/// <summary>
/// An engine that batches like a real one (continuous batching with chunked prefill under a per-step token
/// budget, slot and KV-cache limits) and takes the time an accelerator profile says, but computes nothing:
/// token texts are <see cref="SyntheticTokens"/>. Prompts' blocks stay in a prefix cache in the KV room the running
/// sequences leave free, plus the running prompts' own blocks (which sit in their reservations anyway); the least recently
/// used are evicted first as sequences reserve more, and a sequence whose leading blocks are found there prefills only
/// the rest. Each step report names the blocks evicted since the last (<c>StepReport.evicted_prefix_blocks</c>), for
/// the placement's index of the replica to forget them.
/// </summary>
/// <remarks>
/// A step is planned and applied at once under the lock, then the loop waits out the step's duration and
/// publishes its report: tokens reach the scheduler when the step would have ended. Commands that arrive
/// during the wait take effect in the next step, except that a sequence they stop (a cancel, a preemption) is
/// reported with the step under way: its room is free at once, and its finish does not wait out another step.
/// The next step starts only once the report found room in the sink.
/// </remarks>
internal sealed partial class SimulatedEngine(
    string replicaId,
    AcceleratorProfile profile,
    IStepReportSink sink,
    TimeProvider time,
    ILogger<SimulatedEngine> logger,
    ReplicaMeter? meter = null) : IInferenceEngine
{
    // Past this lag behind the step timeline the engine stops catching up, so a stall does not turn into a burst.
    private static readonly TimeSpan MaxCatchUp = TimeSpan.FromMilliseconds(100);

    // Timers are about 1 ms coarse: shorter waits are carried on the timeline rather than slept one by one,
    // or a sped-up profile with sub-millisecond steps would run at timer speed.
    private static readonly TimeSpan MinSleep = TimeSpan.FromMilliseconds(1);

    private readonly Lock _lock = new();
    private readonly RunningBatch<SimulatedSequence> _running = new(replicaId, profile, time, meter: meter);
    private readonly PrefixBlockCache _prefixes = new(profile.KvCapacityTokens, recordEvictions: true);

    // Timestamp at which the step being waited out ends on the engine's timeline.
    private long _due;

    public string ReplicaId => replicaId;

    public int RunningSequences
    {
        get
        {
            lock (_lock)
            {
                return _running.Count;
            }
        }
    }

    public bool Settled
    {
        get
        {
            lock (_lock)
            {
                return _running.Settled;
            }
        }
    }

    public void Admit(IEnumerable<SequenceSpec> sequences)
    {
        lock (_lock)
        {
            foreach (var spec in sequences)
            {
                if (_running.Screen(spec) is var skipped and not ScreenedAdmission.Run)
                {
                    logger.LogSkipped(replicaId, spec.SequenceId, skipped);
                    continue;
                }

                var sequence = new SimulatedSequence(spec, _prefixes);
                if (!_running.Fits(sequence.KvTokens))
                {
                    _running.Reject(sequence.Finished(FinishReason.Rejected));
                    LogRejected(logger, replicaId, spec.SequenceId, _running.Count, profile.MaxSequences, _running.KvUsed, sequence.KvTokens, profile.KvCapacityTokens);
                    continue;
                }

                _running.Add(sequence);
                ResizePrefixes();
            }

            _running.Wake();
        }
    }

    public void Cancel(IEnumerable<string> sequenceIds, FinishReason reason)
    {
        lock (_lock)
        {
            _running.Cancel(sequenceIds, reason);
            _running.ReportWithStepUnderWay();
            _running.Wake();
        }
    }

    public void CancelAllSilently()
    {
        lock (_lock)
        {
            _running.DropAll();
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
                await _running.WaitForWorkAsync(cancellationToken);

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

    public void Dispose() => _running.Dispose();

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
    /// prefilled sequence not deferred (<see cref="StepPlan.ForBatch{T}"/>), then prefill chunks in <see cref="PrefillOrder"/> within what is left of the step's token budget
    /// and, for capped sequences on a contended replica, their cap (<see cref="StepPlan.TakePrefill{T}"/>).
    /// Null when there is nothing to do.</summary>
    private PlannedStep? TakeStep()
    {
        lock (_lock)
        {
            if (!_running.HasWork)
            {
                return null;
            }

            var report = _running.StartReport();
            var plan = StepPlan.ForBatch(profile, _running.Sequences, _running.Contention, _running.NowMs);
            List<SimulatedSequence>? done = null;
            foreach (var sequence in _running.Sequences)
            {
                var emits = StepPlan.Decodes(sequence);
                if (!sequence.Prefilled)
                {
                    sequence.Prefill(plan.TakePrefill(sequence));
                    if (sequence.Prefilled)
                    {
                        _prefixes.Store(sequence.Blocks);

                        // The step that completes a prefill also yields the first token, unless nothing is left to generate.
                        emits = true;
                    }
                }

                if (emits && sequence.EndReason is null)
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
                _running.Remove(sequence);
                report.Finished.Add(sequence.Finished(sequence.EndReason!.Value));
            }

            // Room the finished sequences freed is the cache's again. What the cache evicted since the last report,
            // admissions between steps included, goes with this one.
            ResizePrefixes();
            _prefixes.TakeEvicted(report.EvictedPrefixBlocks);

            return new PlannedStep(report, plan.DurationMs, _running.Epoch);
        }
    }

    /// <summary>Sizes the prefix cache to the KV room not reserved, plus the running prompts' blocks. Under the lock.</summary>
    private void ResizePrefixes()
    {
        var runningBlocks = 0L;
        foreach (var sequence in _running.Sequences)
        {
            runningBlocks += sequence.Blocks is { } blocks ? (long)blocks.Count * blocks.BlockTokens : 0;
        }

        _prefixes.Resize(profile.KvCapacityTokens - _running.KvUsed + runningBlocks);
    }

    /// <summary>Counts the step's tokens as produced now, when the step ends.</summary>
    private void EndStep(PlannedStep step)
    {
        lock (_lock)
        {
            _running.RecordTokens(step.Report.Tokens.Count);
        }
    }

    /// <summary>Hands the report to the sink with the capacity as it is now. True when done: delivered, or dropped
    /// because the sequences it is about were cancelled silently meanwhile; false when the sink is full.</summary>
    private bool TryPublish(PlannedStep step)
    {
        lock (_lock)
        {
            step.Report.StepMs = step.StepMs;
            return _running.TryPublish(step.Report, step.Epoch, sink);
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replica {ReplicaId} rejected sequence {SequenceId}: {Running}/{MaxSequences} slots, {KvUsed}+{KvTokens}/{KvCapacity} KV tokens (the scheduler admitted past capacity)")]
    private static partial void LogRejected(ILogger logger, string replicaId, string sequenceId, int running, int maxSequences, long kvUsed, long kvTokens, long kvCapacity);

    private sealed record PlannedStep(StepReport Report, double StepMs, long Epoch);
}
