using Scheduler.Policies.Profiles;
using Scheduler.Protos.V1;
using Scheduler.Worker.Telemetry;

namespace Scheduler.Worker.Engines;

/// <summary>
/// What an engine's commands and its step loop share: the running sequences in prefill order (ascending fair rank,
/// equal ranks in admission order), the KV tokens they reserve, the admissions queued ahead (held until a slot frees),
/// the finishes to report with the next step, the capacity counters every report carries, and the signal that wakes an
/// idle loop. Not thread-safe: its engine calls it under the engine's lock.
/// </summary>
/// <param name="replicaId">The replica's id.</param>
/// <param name="profile">Its slots and KV cells.</param>
/// <param name="time">The clock of the throughput meter.</param>
/// <param name="queueAhead">Admissions held beyond the slots (<c>ReplicaDescription.queue_ahead</c>): the scheduler sends
/// them while every slot is taken, and the engine starts each the moment a slot frees, instead of idling that slot for
/// the round trip to the scheduler's next admission.</param>
/// <param name="meter">Where the replica's metrics go (what it admits and each step it publishes); null records none.</param>
internal sealed class RunningBatch<TSequence>(string replicaId, AcceleratorProfile profile, TimeProvider time, int queueAhead = 0, ReplicaMeter? meter = null) : IDisposable
    where TSequence : class, IBatchedSequence
{
    private static readonly TimeSpan ThroughputWindow = TimeSpan.FromSeconds(5);

    private readonly List<TSequence> _sequences = [];
    private readonly Dictionary<string, TSequence> _byId = new(StringComparer.Ordinal);

    // Admissions that found every slot taken, in arrival order: started as slots free, before any later admission.
    private readonly List<SequenceSpec> _ahead = [];

    // Cancellations and rejections, reported with the next step.
    private readonly List<SequenceFinished> _pendingFinished = [];
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly ThroughputMeter _meter = new(time, ThroughputWindow);
    private readonly SequenceSpans _spans = new(replicaId);
    private long _peakKv;
    private int _peakSequences;
    private long _rejected;
    private long _step;

    // The report started and not yet published (or dropped as stale), and the epoch it was started in.
    private StepReport? _underWay;
    private long _underWayEpoch;

    public IReadOnlyList<TSequence> Sequences => _sequences;

    /// <summary>When the replica last held a sequence without a contended prefill cap: the planned engines' memory for
    /// <see cref="StepPlan.ForBatch{T}"/>.</summary>
    public PrefillContention Contention { get; } = new();

    /// <summary>Now on the engine's clock, in milliseconds: when the step being planned starts.</summary>
    public double NowMs => time.GetTimestamp() * 1000.0 / time.TimestampFrequency;

    public int Count => _sequences.Count;

    /// <summary>Runs nothing, holds nothing ahead, and every finish went out in a report — none is in a step under way
    /// (a step ends its last sequences, then waits out its duration before its report is published): a stopping node may
    /// end its stream without dropping a result.</summary>
    public bool Settled => _sequences.Count == 0 && _ahead.Count == 0 && _pendingFinished.Count == 0 && Volatile.Read(ref _underWay) is null;

    public long KvUsed { get; private set; }

    /// <summary>Admissions held until a slot frees.</summary>
    public int QueuedAhead => _ahead.Count;

    /// <summary>Held admissions taken from the queue ahead when a slot freed, since the replica started: each began
    /// without waiting for the scheduler.</summary>
    public long StartedAhead { get; private set; }

    /// <summary>Bumped by <see cref="DropAll"/>: a step planned before must not be published after.</summary>
    public long Epoch { get; private set; }

    /// <summary>True when a step has something to do or to report.</summary>
    public bool HasWork => _sequences.Count > 0 || _pendingFinished.Count > 0;

    /// <summary>True when finishes wait for the next report.</summary>
    public bool HasFinishesToReport => _pendingFinished.Count > 0;

    /// <summary>Screens an admission before the engine looks at it. A sequence already running here is a repeated
    /// admission (a retried command), ignored so it never runs twice; a re-dispatch whose every token was delivered
    /// before has nothing left to generate, and is reported finished as length with the next step. Returns what it
    /// skipped, for the engine to log, or <see cref="ScreenedAdmission.Run"/> when the engine is to decide.</summary>
    public ScreenedAdmission Screen(SequenceSpec spec)
    {
        if (_byId.ContainsKey(spec.SequenceId) || _ahead.Exists(s => s.SequenceId == spec.SequenceId))
        {
            return ScreenedAdmission.Duplicate;
        }

        if (spec.MaxTokens <= spec.ResumeFromToken)
        {
            _pendingFinished.Add(new SequenceFinished { SequenceId = spec.SequenceId, Reason = FinishReason.Length, CompletionTokens = spec.ResumeFromToken });
            return ScreenedAdmission.AlreadyDelivered;
        }

        return ScreenedAdmission.Run;
    }

    /// <summary>Holds an admission that finds every slot taken while the queue ahead has room; it starts when
    /// <see cref="TakeAhead"/> hands it back. False when a slot is free (the engine decides on it now) or the queue
    /// ahead is full (the scheduler admitted past it: the engine refuses it).</summary>
    public bool TryQueueAhead(SequenceSpec spec)
    {
        if (_sequences.Count < profile.MaxSequences || _ahead.Count >= queueAhead)
        {
            return false;
        }

        _ahead.Add(spec);
        return true;
    }

    /// <summary>The oldest held admission, out of the queue ahead, once a slot is free for it (the engine starts it
    /// now); null when none is held or every slot is still taken.</summary>
    public SequenceSpec? TakeAhead()
    {
        if (_ahead.Count == 0 || _sequences.Count >= profile.MaxSequences)
        {
            return null;
        }

        var spec = _ahead[0];
        _ahead.RemoveAt(0);
        StartedAhead++;
        return spec;
    }

    /// <summary>True when a sequence reserving <paramref name="kvTokens"/> finds a slot and KV room.</summary>
    public bool Fits(long kvTokens) => _sequences.Count < profile.MaxSequences && KvUsed + kvTokens <= profile.KvCapacityTokens;

    /// <summary>Adds a sequence in <see cref="PrefillOrder"/>: engines walk <see cref="Sequences"/> to fill a step's
    /// prefill budget, so a lower rank prefills first.</summary>
    public void Add(TSequence sequence)
    {
        _sequences.Insert(PrefillOrder.InsertionIndex(_sequences, sequence.FairRank, s => s.FairRank), sequence);
        _byId.Add(sequence.Id, sequence);
        KvUsed += sequence.KvTokens;
        _spans.Admitted(sequence.Id, sequence.TraceParent);
        meter?.Admitted(sequence.PromptTokens, sequence.CachedPromptTokens);
        _peakSequences = Math.Max(_peakSequences, _sequences.Count);
        _peakKv = Math.Max(_peakKv, KvUsed);
    }

    /// <summary>True while <paramref name="sequence"/> runs here (not stopped, finished or dropped since).</summary>
    public bool Holds(TSequence sequence) => _byId.TryGetValue(sequence.Id, out var held) && ReferenceEquals(held, sequence);

    public void Remove(TSequence sequence)
    {
        _sequences.Remove(sequence);
        _byId.Remove(sequence.Id);
        KvUsed -= sequence.KvTokens;
    }

    /// <summary>Counts a refused admission and reports it with the next step.</summary>
    public void Reject(SequenceFinished rejected)
    {
        _rejected++;
        _pendingFinished.Add(rejected);
    }

    /// <summary>Reports <paramref name="finished"/> with the next step.</summary>
    public void ReportNext(SequenceFinished finished) => _pendingFinished.Add(finished);

    /// <summary>Removes the running and the held ones among <paramref name="sequenceIds"/>, reporting each finished with
    /// <paramref name="reason"/> (cancelled or preempted) with the next step; unknown ids are ignored. Returns the
    /// removed running sequences.</summary>
    public List<TSequence> Cancel(IEnumerable<string> sequenceIds, FinishReason reason)
    {
        var cancelled = new List<TSequence>();
        foreach (var id in sequenceIds)
        {
            if (_byId.TryGetValue(id, out var sequence))
            {
                Remove(sequence);
                _pendingFinished.Add(sequence.Finished(reason));
                cancelled.Add(sequence);
            }
            else if (_ahead.FindIndex(s => s.SequenceId == id) is >= 0 and var held)
            {
                _pendingFinished.Add(new SequenceFinished { SequenceId = id, Reason = reason, CompletionTokens = _ahead[held].ResumeFromToken });
                _ahead.RemoveAt(held);
            }
        }

        return cancelled;
    }

    /// <summary>Moves the finishes waiting for the next report into the report under way, to go out with it. For an
    /// engine that starts a step's report when it plans the step and publishes it once the step's time has passed (the
    /// simulated engine): a sequence stopped meanwhile (cancelled, preempted) left its room at once and has nothing more
    /// to report, so its finish goes out at the end of this step rather than of the next — a preempted job is back in
    /// its queue a whole step sooner. Nothing moves without a report under way, nor into one started before
    /// <see cref="DropAll"/>, which is dropped unpublished.</summary>
    public void ReportWithStepUnderWay()
    {
        if (_underWay is { } report && _underWayEpoch == Epoch)
        {
            report.Finished.AddRange(_pendingFinished);
            _pendingFinished.Clear();
        }
    }

    /// <summary>Removes every sequence, held ones included, without reporting anything about them, not even from a step already under way.
    /// Returns the removed sequences.</summary>
    public List<TSequence> DropAll()
    {
        var dropped = _sequences.ToList();
        _sequences.Clear();
        _byId.Clear();
        _ahead.Clear();
        _pendingFinished.Clear();
        _spans.DropAll();
        meter?.Dropped();
        KvUsed = 0;
        Epoch++;
        return dropped;
    }

    /// <summary>The next step's report, carrying the finishes waiting for it.</summary>
    public StepReport StartReport()
    {
        // Under way before the finishes leave the pending list, so Settled never reads true in between.
        var report = new StepReport { ReplicaId = replicaId, Step = ++_step };
        _underWayEpoch = Epoch;
        Volatile.Write(ref _underWay, report);
        report.Finished.AddRange(_pendingFinished);
        _pendingFinished.Clear();
        return report;
    }

    /// <summary>Counts <paramref name="tokens"/> output tokens as produced now, when their step ended.</summary>
    public void RecordTokens(int tokens) => _meter.Record(tokens);

    /// <summary>Hands <paramref name="report"/> to <paramref name="sink"/> with the capacity as it is now, to which
    /// <paramref name="engineCounters"/> adds what only the engine counts. True when done: delivered, or dropped because
    /// it was planned in an earlier <paramref name="epoch"/>; false when the sink is full.</summary>
    public bool TryPublish(StepReport report, long epoch, IStepReportSink sink, Action<ReplicaCapacity>? engineCounters = null)
    {
        if (epoch != Epoch)
        {
            Volatile.Write(ref _underWay, null);
            return true;
        }

        report.Capacity = new ReplicaCapacity
        {
            RunningSequences = _sequences.Count,
            FreeSequenceSlots = profile.MaxSequences - _sequences.Count,
            KvTokensUsed = KvUsed,
            FreeKvTokens = profile.KvCapacityTokens - KvUsed,
            PeakSequences = _peakSequences,
            PeakKvTokens = _peakKv,
            RejectedAdmissions = _rejected,
            OutputTokensPerSecond = _meter.TokensPerSecond(),
        };
        engineCounters?.Invoke(report.Capacity);
        if (!sink.TryPublish(report))
        {
            return false;
        }

        // The report's tokens and finishes are on their way to the scheduler: the sequences' spans move on with them.
        _spans.Reported(report);
        meter?.Stepped(report, _ahead.Count);
        Volatile.Write(ref _underWay, null);
        return true;
    }

    /// <summary>Wakes the step loop if it waits for work. Called under the engine's lock, so Release never overflows
    /// the semaphore's maximum of 1.</summary>
    public void Wake()
    {
        if (_wake.CurrentCount == 0)
        {
            _wake.Release();
        }
    }

    /// <summary>Waits until <see cref="Wake"/> is called (at once if it was since the last wait).</summary>
    public Task WaitForWorkAsync(CancellationToken cancellationToken) => _wake.WaitAsync(cancellationToken);

    public void Dispose() => _wake.Dispose();
}
