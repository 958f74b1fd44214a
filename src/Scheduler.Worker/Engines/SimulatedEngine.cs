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
/// The step's prefill runs in micro-batches (<see cref="StepPlan.MicroBatchTokens"/>): the first, with the decodes, is
/// applied when the step is planned; the later ones when they have run, at the step's end — or at an earlier boundary
/// when an admission ranked ahead of their prefill ends the step there (<see cref="StepPlan.YieldAfter"/>), in which case
/// what did not run is left to the next step.
/// </remarks>
internal sealed partial class SimulatedEngine(
    string replicaId,
    AcceleratorProfile profile,
    IStepReportSink sink,
    TimeProvider time,
    ILogger<SimulatedEngine> logger,
    int microBatchTokens = 0,
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

    // The step planned and not yet ended: an admission may end it early. Under the lock.
    private PlannedStep? _stepUnderWay;

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
                YieldTo(sequence);
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

            await PaceAsync(step, cancellationToken);
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
    /// and, for capped sequences on a contended replica, their cap (<see cref="StepPlan.TakePrefill{T}"/>). Prefill past
    /// the first micro-batch is only planned here; <see cref="EndStep"/> applies what of it ran.
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
            var plan = StepPlan.ForBatch(profile, _running.Sequences, _running.Contention, _running.NowMs, microBatchTokens: microBatchTokens);
            List<SimulatedSequence>? done = null;
            List<LaterPrefill>? later = null;
            foreach (var sequence in _running.Sequences)
            {
                var emits = StepPlan.Decodes(sequence);
                if (sequence.EndReason is null && emits)
                {
                    Emit(sequence, report);
                }

                if (!sequence.Prefilled)
                {
                    var offset = plan.PrefillTokens;
                    var chunk = plan.TakePrefill(sequence);
                    var first = plan.ChunkDoneAfter(offset, chunk, 1);
                    ApplyPrefill(sequence, first, report);
                    if (chunk > first)
                    {
                        (later ??= []).Add(new LaterPrefill(sequence, offset + first, chunk - first));
                    }
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

            return _stepUnderWay = new PlannedStep(report, plan, later, _running.Epoch);
        }
    }

    /// <summary>Prefills <paramref name="tokens"/> of <paramref name="sequence"/>'s prompt; the step that completes it
    /// stores its blocks and yields its first token, unless nothing is left to generate.</summary>
    private void ApplyPrefill(SimulatedSequence sequence, int tokens, StepReport report)
    {
        sequence.Prefill(tokens);
        if (sequence.Prefilled)
        {
            _prefixes.Store(sequence.Blocks);
            if (sequence.EndReason is null)
            {
                Emit(sequence, report);
            }
        }
    }

    private static void Emit(SimulatedSequence sequence, StepReport report)
    {
        var index = sequence.NextTokenIndex;
        report.Tokens.Add(new SequenceTokens { SequenceId = sequence.Id, FirstTokenIndex = index, Text = sequence.EmitToken(), TokenCount = 1 });
    }

    /// <summary>Ends the step under way early for <paramref name="admitted"/> when its later micro-batches hold prefill
    /// ranked behind it (<see cref="StepPlan.YieldAfter"/>). Under the lock.</summary>
    private void YieldTo(SimulatedSequence admitted)
    {
        if (_stepUnderWay is not { Later: not null } step || step.Epoch != _running.Epoch)
        {
            return;
        }

        var elapsedMs = step.StartedAt is { } started ? time.GetElapsedTime(started).TotalMilliseconds : 0;
        var after = step.Plan.YieldAfter(elapsedMs, admitted.FairRank);
        if (after < step.MicroBatches)
        {
            step.MicroBatches = after;
            step.Yielded.TrySetResult();
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

    /// <summary>Applies the prefill of the step's later micro-batches that ran (all of them unless an admission ended the
    /// step early), to the sequences still running, and counts the step's tokens as produced now, when the step ends.</summary>
    private void EndStep(PlannedStep step)
    {
        lock (_lock)
        {
            _stepUnderWay = null;
            if (step.Later is { } later && step.Epoch == _running.Epoch)
            {
                foreach (var prefill in later)
                {
                    var sequence = prefill.Sequence;
                    if (!_running.Holds(sequence))
                    {
                        continue;
                    }

                    ApplyPrefill(sequence, step.Plan.ChunkDoneAfter(prefill.Offset, prefill.Tokens, step.MicroBatches), step.Report);
                    if (sequence.EndReason is { } reason)
                    {
                        _running.Remove(sequence);
                        step.Report.Finished.Add(sequence.Finished(reason));
                    }
                }

                ResizePrefixes();
                _prefixes.TakeEvicted(step.Report.EvictedPrefixBlocks);
            }

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

    /// <summary>Waits until the step ends on the engine's timeline, or, when an admission ends it early
    /// (<see cref="YieldTo"/>), until the end of the micro-batch it ends after; an instant step only yields the thread.</summary>
    private async Task PaceAsync(PlannedStep step, CancellationToken cancellationToken)
    {
        var now = time.GetTimestamp();
        if (step.StepMs <= 0)
        {
            _due = now;
            lock (_lock)
            {
                _stepUnderWay = null;
            }

            await Task.Yield();
            return;
        }

        if (time.GetElapsedTime(_due, now) > MaxCatchUp)
        {
            _due = now;
        }

        var start = _due;
        lock (_lock)
        {
            step.StartedAt = start;
        }

        _due = start + Ticks(step.Plan.DurationMs);
        if (step.Later is null)
        {
            await SleepUntilDueAsync(now, cancellationToken);
            return;
        }

        using (var sleeping = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            var sleep = SleepUntilDueAsync(now, sleeping.Token);
            if (await Task.WhenAny(sleep, step.Yielded.Task) == sleep)
            {
                await sleep;
            }
            else
            {
                await sleeping.CancelAsync();
                try
                {
                    await sleep;
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    // The sleep to the step's planned end, cut short by the yield.
                }
            }
        }

        cancellationToken.ThrowIfCancellationRequested();
        bool yielded;
        lock (_lock)
        {
            // From here no admission changes the step: it ends after the micro-batches it runs now.
            _stepUnderWay = null;
            yielded = step.Yielded.Task.IsCompleted;
            _due = start + Ticks(step.StepMs);
        }

        if (yielded)
        {
            await SleepUntilDueAsync(time.GetTimestamp(), cancellationToken);
        }
    }

    private long Ticks(double ms) => (long)(ms * time.TimestampFrequency / 1000.0);

    private async Task SleepUntilDueAsync(long now, CancellationToken cancellationToken)
    {
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

    /// <summary>A step planned and not yet published. <see cref="MicroBatches"/>, <see cref="StartedAt"/> and
    /// <see cref="Yielded"/> change under the engine's lock.</summary>
    private sealed class PlannedStep(StepReport report, StepPlan plan, List<LaterPrefill>? later, long epoch)
    {
        public StepReport Report { get; } = report;

        public StepPlan Plan { get; } = plan;

        /// <summary>Prefill planned past the first micro-batch, applied at the step's end as far as it ran; null: none.</summary>
        public List<LaterPrefill>? Later { get; } = later;

        public long Epoch { get; } = epoch;

        /// <summary>The micro-batches the step runs: all of them, or fewer once an admission ended it early.</summary>
        public int MicroBatches { get; set; } = plan.MicroBatches;

        /// <summary>Its start on the engine's timeline, once its wait began.</summary>
        public long? StartedAt { get; set; }

        /// <summary>Completed when an admission ends the step early.</summary>
        public TaskCompletionSource Yielded { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>How long the step takes: the micro-batches it runs.</summary>
        public double StepMs => Plan.MicroBatchesEndMs(MicroBatches);
    }

    /// <summary>A prefill chunk's part planned past the step's first micro-batch: <paramref name="Tokens"/> prompt tokens of
    /// <paramref name="Sequence"/> from <paramref name="Offset"/> prompt tokens into the step.</summary>
    private readonly record struct LaterPrefill(SimulatedSequence Sequence, int Offset, int Tokens);
}
