using Scheduler.Policies.Profiles;
using Scheduler.Protos.V1;
using Scheduler.Worker.Telemetry;

namespace Scheduler.Worker.Engines;

/// <summary>
/// What an engine's commands and its step loop share: the running sequences in prefill order (ascending fair rank,
/// equal ranks in admission order),
/// the KV tokens they reserve, the finishes to report with the next step, the capacity counters every report carries,
/// and the signal that wakes an idle loop. Not thread-safe: its engine calls it under the engine's lock.
/// </summary>
internal sealed class RunningBatch<TSequence>(string replicaId, AcceleratorProfile profile, TimeProvider time) : IDisposable
    where TSequence : class, IBatchedSequence
{
    private static readonly TimeSpan ThroughputWindow = TimeSpan.FromSeconds(5);

    private readonly List<TSequence> _sequences = [];
    private readonly Dictionary<string, TSequence> _byId = new(StringComparer.Ordinal);

    // Cancellations and rejections, reported with the next step.
    private readonly List<SequenceFinished> _pendingFinished = [];
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly ThroughputMeter _meter = new(time, ThroughputWindow);
    private readonly SequenceSpans _spans = new(replicaId);
    private long _peakKv;
    private int _peakSequences;
    private long _rejected;
    private long _step;

    public IReadOnlyList<TSequence> Sequences => _sequences;

    public int Count => _sequences.Count;

    public long KvUsed { get; private set; }

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
        if (_byId.ContainsKey(spec.SequenceId))
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
        _peakSequences = Math.Max(_peakSequences, _sequences.Count);
        _peakKv = Math.Max(_peakKv, KvUsed);
    }

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

    /// <summary>Removes the running ones among <paramref name="sequenceIds"/>, reporting each cancelled with the next
    /// step; unknown ids are ignored. Returns the removed sequences.</summary>
    public List<TSequence> Cancel(IEnumerable<string> sequenceIds)
    {
        var cancelled = new List<TSequence>();
        foreach (var id in sequenceIds)
        {
            if (_byId.TryGetValue(id, out var sequence))
            {
                Remove(sequence);
                _pendingFinished.Add(sequence.Finished(FinishReason.Cancelled));
                cancelled.Add(sequence);
            }
        }

        return cancelled;
    }

    /// <summary>Removes every sequence without reporting anything about them, not even from a step already under way.
    /// Returns the removed sequences.</summary>
    public List<TSequence> DropAll()
    {
        var dropped = _sequences.ToList();
        _sequences.Clear();
        _byId.Clear();
        _pendingFinished.Clear();
        _spans.DropAll();
        KvUsed = 0;
        Epoch++;
        return dropped;
    }

    /// <summary>The next step's report, carrying the finishes waiting for it.</summary>
    public StepReport StartReport()
    {
        var report = new StepReport { ReplicaId = replicaId, Step = ++_step };
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
