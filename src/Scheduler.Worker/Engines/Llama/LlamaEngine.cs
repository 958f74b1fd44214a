using System.Globalization;
using LLama;
using LLama.Native;
using Scheduler.Policies.Profiles;
using Scheduler.Protos.Errors;
using Scheduler.Protos.V1;
using Scheduler.Worker.Telemetry;

namespace Scheduler.Worker.Engines.Llama;

/// <summary>
/// A replica that runs a GGUF model with llama.cpp, batching at the iteration level: one context whose KV cells the
/// replica's sequences hold, each under its own llama.cpp sequence id (a slot) — in its own stream of an equal share
/// of the cells, or in one cache they share (<see cref="LlamaReplicaSettings.KvUnified"/>). Every step holds one token
/// for each decoding sequence plus prefill chunks of newly admitted ones, within the step token budget (the context's
/// batch size); sequences join and leave between steps. A sequence that leaves frees its slot at
/// once and leaves its KV cells there as a prefix cache: an admission takes the free slot whose cells share the longest
/// prefix with its prompt (in a cache the slots share, or a running sequence's longer prefix) and prefills only the
/// rest (<see cref="LlamaSlots"/>). An admission that finds every slot taken is held in the replica's queue ahead
/// (<see cref="LlamaReplicaSettings.QueueAhead"/>) and starts in the step after a slot frees.
/// <para>A step's prefill runs in decode calls of at most <see cref="StepPlan.MicroBatchTokens"/> prompt tokens, the
/// decodes with the first (llama.cpp takes a prompt split across calls by position): between calls, an admission ranked
/// ahead of the prefill still to come (<see cref="StepPlan.YieldsTo"/>) ends the step, so its prompt goes first in the
/// next. What ran is kept — each sequence's prefill progress is the positions its calls put in the KV cache — and only a
/// sequence whose prompt's last token was in a call that ran draws a token.</para>
/// </summary>
/// <remarks>
/// Only the step loop touches the context and the sequences' samplers. A step is planned under the lock, each of its
/// calls filled under it and decoded and sampled outside it (commands arriving meanwhile take effect in the next step,
/// but for the admission that ends it early), and its results applied under the lock again, dropping those of sequences
/// that left in between.
/// </remarks>
internal sealed partial class LlamaEngine : IInferenceEngine
{
    /// <summary>Steps in a row a sequence's pending token may be refused for want of KV cells before the engine hands
    /// one of the waiting sequences back. The first refused step evicts the free slots' caches (in a shared cache) and
    /// hands back the prompts of the refused call, so the second finds whatever room the engine itself can make; a third
    /// leaves a cancel or preemption landing meanwhile its chance. Past that, steps follow each other in microseconds
    /// (a refused call computes nothing) and nothing frees cells by waiting: a full cache stays full (vLLM preempts at
    /// the first allocation that fails).</summary>
    internal const int RefusedStepsBeforeHandBack = 3;

    private readonly string _replicaId;
    private readonly AcceleratorProfile _profile;
    private readonly LlamaModel _model;
    private readonly IStepReportSink _sink;
    private readonly TimeProvider _time;
    private readonly ILogger<LlamaEngine> _logger;
    private readonly int _maxContextTokens;
    private readonly LLamaContext _context;
    private readonly LLamaBatch _decodeBatch = new();
    private readonly Lock _lock = new();
    private readonly RunningBatch<LlamaSequence> _running;
    private readonly LlamaSlots _slots;
    private readonly int _microBatchTokens;

    // False for a model whose memory cannot be cut back to a prefix (recurrent or hybrid): no prompt reuses a slot's cells.
    private readonly bool _keepsPrefixes;

    // The scheduler-named prompt blocks the slots' cells hold: what leaves them goes out with the next step report.
    private readonly LlamaCachedBlocks _cachedBlocks = new();

    // Sequences out of the batch whose sampler the loop frees before its next decode.
    private readonly List<LlamaSequence> _left = [];
    private LlamaEngineStats _stats = LlamaEngineStats.None;

    // The best fair rank admitted since the step under way was planned: ranked ahead of its later calls' prefill, it
    // ends the step after the call under way. Under the lock.
    private double _admittedRank = double.PositiveInfinity;

    /// <param name="replicaId">The replica's id.</param>
    /// <param name="profile">Slots (<see cref="AcceleratorProfile.MaxSequences"/>), KV cells
    /// (<see cref="AcceleratorProfile.KvCapacityTokens"/>) and step token budget (<see cref="AcceleratorProfile.StepTokenBudget"/>).</param>
    /// <param name="settings">The model and llama.cpp settings.</param>
    /// <param name="maxContextTokens">The longest prompt plus output one sequence may have.</param>
    /// <param name="sink">Where step reports go.</param>
    /// <param name="time">The clock.</param>
    /// <param name="logger">The engine's logger.</param>
    /// <param name="meter">Where the replica's metrics go; null records none.</param>
    /// <param name="microBatchTokens">Prompt tokens of one decode call of a step's prefill (<see cref="StepPlan.MicroBatchTokens"/>); 0: a step is one call, which never ends early.</param>
    public LlamaEngine(
        string replicaId,
        AcceleratorProfile profile,
        LlamaReplicaSettings settings,
        int maxContextTokens,
        IStepReportSink sink,
        TimeProvider time,
        ILogger<LlamaEngine> logger,
        ReplicaMeter? meter = null,
        int microBatchTokens = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(microBatchTokens);
        _replicaId = replicaId;
        _microBatchTokens = microBatchTokens;
        _profile = profile;
        _model = settings.Model;
        // A slot's own stream bounds its sequence when the cache is not shared.
        _maxContextTokens = settings.KvUnified ? maxContextTokens : (int)Math.Min(maxContextTokens, profile.KvCapacityTokens / profile.MaxSequences);
        _sink = sink;
        _time = time;
        _logger = logger;
        _running = new RunningBatch<LlamaSequence>(replicaId, profile, time, settings.QueueAhead, meter);
        _context = _model.CreateContext(profile.MaxSequences, (int)profile.KvCapacityTokens, profile.StepTokenBudget, settings.Threads, settings.KvUnified, settings.FlashAttention, logger);
        if (_context.NativeHandle.ContextSize is var cells && cells < profile.KvCapacityTokens)
        {
            // The node reports the profile's cells to the scheduler: they must be cells the engine really has.
            _context.Dispose();
            throw new InvalidOperationException($"llama.cpp made a context of {cells} KV cells for replica {replicaId}, fewer than the {profile.KvCapacityTokens} it reports.");
        }

        _keepsPrefixes = LlamaMemory.KeepsPrefixes(_context.NativeHandle, _model.Vocabulary.BOS ?? (LLamaToken)0);
        _slots = new LlamaSlots(profile.MaxSequences, settings.KvUnified ? profile.KvCapacityTokens : null, _cachedBlocks, _keepsPrefixes);
        LogCreated(logger, replicaId, _model.Path, profile.MaxSequences, _context.NativeHandle.ContextSize, profile.StepTokenBudget);
        if (!_keepsPrefixes)
        {
            LogNoPrefixReuse(logger, replicaId, _model.Path);
        }
    }

    public string ReplicaId => _replicaId;

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

    /// <summary>Admissions started from the queue ahead when a slot freed, since the replica started.</summary>
    public long StartedAhead
    {
        get
        {
            lock (_lock)
            {
                return _running.StartedAhead;
            }
        }
    }

    /// <summary>How the engine has batched so far.</summary>
    public LlamaEngineStats Stats
    {
        get
        {
            lock (_lock)
            {
                return _stats;
            }
        }
    }

    public void Admit(IEnumerable<SequenceSpec> sequences)
    {
        // Tokenizing reads only the shared vocabulary: it needs no lock and keeps the step loop waiting less.
        var prompts = sequences.Select(s => (Spec: s, Prompt: Prompt(s))).ToList();
        lock (_lock)
        {
            // Held admissions go first: they were sent before these, while every slot was taken.
            StartQueuedAhead();
            foreach (var (spec, prompt) in prompts)
            {
                if (_running.Screen(spec) is var skipped and not ScreenedAdmission.Run)
                {
                    _logger.LogSkipped(_replicaId, spec.SequenceId, skipped);
                    continue;
                }

                Start(spec, prompt);
            }

            _running.Wake();
        }
    }

    public void Cancel(IEnumerable<string> sequenceIds, FinishReason reason)
    {
        lock (_lock)
        {
            _running.Cancel(sequenceIds, reason).ForEach(Free);
            _running.Wake();
        }
    }

    public void CancelAllSilently()
    {
        lock (_lock)
        {
            // Woken, so the loop frees the dropped sequences' samplers now rather than with the next admission.
            _running.DropAll().ForEach(Free);
            _running.Wake();
        }
    }

    // A busy engine steps back to back on this thread: decode calls block, and are the replica's whole job.
    public Task RunAsync(CancellationToken cancellationToken) =>
        BusyLoop.RunAsync<PlannedStep>(TakeStep, TryPublish, _running.WaitForWorkAsync, _sink, cancellationToken);

    /// <summary>One step, published: the loop's body, for tests that step the engine themselves.</summary>
    internal StepReport? Step()
    {
        var step = TakeStep();
        if (step is null)
        {
            return null;
        }

        TryPublish(step);
        return step.Report;
    }

    /// <summary>Called on the step loop between a step's decode calls, before the engine looks for an admission that ends
    /// the step there: a test admits a prompt mid-step with it.</summary>
    internal Action? BetweenCalls { get; set; }

    /// <summary>Prompt and output tokens the free slots keep in KV cells as prefix cache.</summary>
    internal long CachedKvTokens
    {
        get
        {
            lock (_lock)
            {
                return _slots.CachedTokens;
            }
        }
    }

    /// <summary>The context, for a test that takes KV cells the engine does not count (as llama.cpp can need cells its
    /// reservations do not see); touch it only between steps or from <see cref="BetweenCalls"/>.</summary>
    internal SafeLLamaContextHandle NativeContext => _context.NativeHandle;

    /// <summary>KV cells holding positions of any sequence, running or cached; call it between steps (the loop owns the
    /// context).</summary>
    internal int KvCellsInUse() => Enumerable.Range(0, _profile.MaxSequences).Sum(KvCells);

    /// <summary>KV cells holding positions of the sequence in <paramref name="slot"/>; call it between steps.</summary>
    internal int KvCells(int slot)
    {
        var handle = _context.NativeHandle;
        var max = handle.MemorySequenceMaxPosition((LLamaSeqId)slot).Value;
        return max < 0 ? 0 : max - handle.MemorySequenceMinPosition((LLamaSeqId)slot).Value + 1;
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var sequence in _running.DropAll().Concat(_left))
            {
                sequence.Dispose();
            }

            _left.Clear();
        }

        _context.Dispose();
        _running.Dispose();
    }

    /// <summary>Plans the step under the lock, frees what left, runs its calls (each filled under the lock, decoded and
    /// sampled outside it) until they are done or an admission ends the step, and applies the results under the lock
    /// again. Null when there is nothing to do.</summary>
    private PlannedStep? TakeStep()
    {
        List<LlamaSequence> left;
        List<LlamaKvEdit> edits;
        StepCalls? step = null;
        var epoch = 0L;
        lock (_lock)
        {
            left = [.. _left];
            _left.Clear();

            // The slots that freed in the last step (or by a cancel since) take held admissions now: this step
            // prefills them, without a round trip to the scheduler.
            StartQueuedAhead();
            edits = _slots.TakeEdits();
            if (_running.HasWork)
            {
                epoch = _running.Epoch;
                step = Plan();
            }
        }

        var started = _time.GetTimestamp();
        var handle = _context.NativeHandle;
        foreach (var edit in edits)
        {
            // Before the decode, in the order decided: a slot freed and taken again since the last step is trimmed to
            // what its new sequence reuses (or given a running sequence's prefix) before the next sequence in it decodes.
            edit.Apply(handle);
        }

        foreach (var sequence in left)
        {
            sequence.Dispose();
        }

        if (step is null)
        {
            return null;
        }

        var result = DecodeResult.Ok;
        for (var call = 1; call <= step.Plan.MicroBatches; call++)
        {
            List<CallPart> parts;
            if (call > 1)
            {
                BetweenCalls?.Invoke();
            }

            lock (_lock)
            {
                if (call > 1 && step.Plan.YieldsTo(_admittedRank))
                {
                    // What ran is kept; the rest of the step's prefill is planned again in the next step, behind the
                    // admission, whose prompt goes first.
                    break;
                }

                parts = Fill(step, call);
            }

            if (parts.Count == 0)
            {
                continue;
            }

            result = handle.Decode(_decodeBatch);
            if (result != DecodeResult.Ok)
            {
                step.Refused = parts;
                break;
            }

            step.Calls.Add((parts.Count, _decodeBatch.TokenCount));
            foreach (var part in parts)
            {
                // Drawn now: the next call overwrites the logits.
                part.Entry.Done = part.Done;
                if (part.Logits > 0)
                {
                    (part.Entry.Draws ??= []).AddRange(part.Entry.Sequence.Draw(handle, part.FirstLogits, part.Logits));
                }
            }
        }

        var stepMs = _time.GetElapsedTime(started).TotalMilliseconds;
        lock (_lock)
        {
            return Apply(step, result, stepMs, epoch);
        }
    }

    /// <summary>Plans the step with the shared <see cref="StepPlan"/>: a token for every decoding sequence not
    /// deferred (<see cref="StepPlan.ForBatch{T}"/>: a deferred one keeps its sampled token for a later step), then prefill chunks in <see cref="PrefillOrder"/> within what is left of the step's token budget (and a capped sequence's contended prefill cap, <see cref="StepPlan.TakePrefill{T}"/>); each call lists
    /// its part of them in slot order (<see cref="Fill"/>).</summary>
    /// <remarks>
    /// With a KV stream per slot, llama.cpp computes a batch in one pass over the weights only for sequences whose slots
    /// are consecutive and listed in increasing order; at every other sequence it starts another pass (a micro-batch),
    /// and a batch listed in admission order over scattered slots cost about as much as decoding its sequences one by
    /// one. Listing the batch by slot, with the lowest free slot taken first when no slot's cache is worth reusing
    /// (<see cref="LlamaSlots.Take"/>), keeps a full replica's step to one pass.
    /// </remarks>
    private StepCalls Plan()
    {
        var entries = new List<StepEntry>();
        var plan = StepPlan.ForBatch(_profile, _running.Sequences, _running.Contention, _running.NowMs, microBatchTokens: _microBatchTokens);
        foreach (var sequence in _running.Sequences)
        {
            if (StepPlan.Decodes(sequence))
            {
                entries.Add(new StepEntry(sequence, 0, 0));
            }
            else if (sequence.PrefillRemaining > 0 && plan.PrefillTokens is var offset && plan.TakePrefill(sequence) is > 0 and var chunk)
            {
                entries.Add(new StepEntry(sequence, sequence.CapPrefill(chunk), offset));
            }
        }

        _admittedRank = double.PositiveInfinity;
        return new StepCalls(plan, [.. entries.OrderBy(e => e.Sequence.Slot.Value)]);
    }

    /// <summary>Fills the decode batch with call <paramref name="call"/> (from 1) of the step, in slot order: the decodes
    /// in the first, and each prefill chunk's part the call's micro-batch holds (<see cref="StepPlan.ChunkDoneAfter"/>),
    /// for the sequences still running.</summary>
    private List<CallPart> Fill(StepCalls step, int call)
    {
        _decodeBatch.Clear();
        var parts = new List<CallPart>();
        foreach (var entry in step.Entries)
        {
            var sequence = entry.Sequence;
            if (!sequence.Active)
            {
                continue;
            }

            if (entry.PrefillChunk == 0)
            {
                if (call == 1)
                {
                    parts.Add(new CallPart(entry, 1, sequence.AddDecode(_decodeBatch), 1));
                }

                continue;
            }

            var from = call == 1 ? 0 : step.Plan.ChunkDoneAfter(entry.Offset, entry.PrefillChunk, call - 1);
            var to = step.Plan.ChunkDoneAfter(entry.Offset, entry.PrefillChunk, call);
            if (to > from)
            {
                parts.Add(new CallPart(entry, to, sequence.AddPrefill(_decodeBatch, from, to - from)));
            }
        }

        return parts;
    }

    private PlannedStep Apply(StepCalls step, DecodeResult result, double stepMs, long epoch)
    {
        foreach (var (sequences, tokens) in step.Calls)
        {
            _stats = _stats.After(sequences, tokens);
        }

        if (result == DecodeResult.NoKvSlot)
        {
            // The cache is fuller than the reservations say (llama.cpp needs cells the count does not see): the
            // prompts the refused call brought are handed back, and the sequences it decoded try again in the next
            // step, with the free slots' cached cells (in a shared cache) removed first — also when it held decodes only.
            // Not for ever: once their tokens waited RefusedStepsBeforeHandBack steps, one of them goes back to the
            // scheduler, its cells (left before the room is made) freed for the others.
            var waiting = step.Refused!.Where(p => p.Entry.PrefillChunk == 0 && p.Entry.Sequence.Active).Select(p => p.Entry.Sequence).ToList();
            waiting.ForEach(s => s.Refused());
            if (waiting.Any(s => s.RefusedSteps >= RefusedStepsBeforeHandBack))
            {
                HandBackForRoom(waiting);
            }

            _slots.MakeRoom(_profile.KvCapacityTokens);
            foreach (var entry in step.Refused!.Select(p => p.Entry).Where(e => e.PrefillChunk > 0 && e.Sequence.Active))
            {
                // Before the report starts, so the hand-back goes out with this step's, not a step later. Its free
                // slot keeps what the calls that ran put in its cells, which its retry reuses.
                if (entry.Done > 0)
                {
                    entry.Sequence.Decoded(entry.Done);
                }

                Leave(entry.Sequence);
                _running.Reject(entry.Sequence.Finished(FinishReason.Rejected));
                LogRejected(_logger, _replicaId, entry.Sequence.Id, "llama.cpp found no KV slot for its prompt");
            }
        }
        else if (result != DecodeResult.Ok)
        {
            // Not for want of room: llama.cpp refused the call's batch or failed computing it, which the next step would
            // not change. The step loop used to end here, and every job on the replica stayed running for ever, its
            // client waiting on nothing, with only the node's health to say so. The call's sequences go back to the
            // scheduler instead, and the replica goes on.
            foreach (var entry in step.Refused!.Select(p => p.Entry).Where(e => e.Sequence.Active))
            {
                HandBackFailed(entry.Sequence, result);
            }
        }

        var report = _running.StartReport();
        report.StepMs = stepMs;
        foreach (var entry in step.Entries)
        {
            var sequence = entry.Sequence;
            if (!sequence.Active)
            {
                continue;
            }

            if (entry.Done > 0)
            {
                // What the calls that ran put in its KV cells: the decoded token, or that much of its prefill chunk.
                sequence.Decoded(entry.PrefillChunk > 0 ? entry.Done : 0);
            }

            if (entry.Draws is { } draws)
            {
                report.Tokens.AddRange(sequence.Accept(draws, _model.Vocabulary));
            }

            if (sequence.EndReason is { } reason)
            {
                Leave(sequence);
                report.Finished.Add(sequence.Finished(reason));
            }
        }

        _running.RecordTokens(report.Tokens.Sum(t => t.TokenCount));
        _cachedBlocks.TakeEvicted(report.EvictedPrefixBlocks);
        return new PlannedStep(report, epoch);
    }

    /// <summary>Hands back the one of <paramref name="waiting"/> (sequences whose pending tokens llama.cpp keeps refusing
    /// for want of KV cells) holding the most cells, of equals the one with the weakest claim (highest fair rank): one
    /// hand-back frees the most room, so the fewest jobs are disturbed (llama.cpp's own server fails every slot there
    /// instead, its TODO being to end only the largest). Finished rejected from the tokens it delivered, with why: the
    /// scheduler resumes it later, counted against its hand-backs (<c>MaxHandBacks</c>), so a replica whose cache stays
    /// full cannot bounce a job for ever.</summary>
    private void HandBackForRoom(List<LlamaSequence> waiting)
    {
        var handedBack = waiting.OrderBy(s => KvCells(s.Slot.Value)).ThenBy(s => s.FairRank).Last();
        var cells = KvCells(handedBack.Slot.Value);
        var refusedSteps = handedBack.RefusedSteps;

        // Left before the caller makes room: in a cache the slots share, its cells go with the free slots' caches. (With
        // a stream per slot no other sequence could use them; they stay as its slot's cache.)
        Leave(handedBack);
        var finished = handedBack.Finished(FinishReason.Rejected);
        finished.Error = string.Create(
            CultureInfo.InvariantCulture,
            $"llama.cpp found no free KV cells for its next token {refusedSteps} steps in a row on replica {_replicaId} (its cache fuller than the engine counts): handed back, as the waiting sequence holding the most cells ({cells}), so the others can go on");
        _running.Reject(finished);
        LogHandedBackForRoom(_logger, _replicaId, handedBack.Id, cells, refusedSteps, finished.CompletionTokens, waiting.Count - 1);
    }

    /// <summary>Hands back <paramref name="sequence"/>, whose decode call llama.cpp failed otherwise than for want of KV
    /// cells, finished rejected from the tokens it delivered and saying why: the scheduler resumes it (elsewhere, the
    /// replica held as after any refusal), counted against its hand-backs, so a replica that fails every call fails the
    /// job with this message rather than bouncing it for ever. Its slot is emptied rather than kept as cache: the failed
    /// call may have left part of its batch in the cells.</summary>
    private void HandBackFailed(LlamaSequence sequence, DecodeResult result)
    {
        _running.Remove(sequence);
        sequence.Leave();
        _slots.Release(sequence.Slot, []);
        _cachedBlocks.Clear(sequence.Slot);
        _left.Add(sequence);
        var finished = sequence.Finished(FinishReason.Rejected);
        finished.Error = string.Create(
            CultureInfo.InvariantCulture,
            $"llama.cpp failed the decode call holding it on replica {_replicaId}: llama_decode answered {result} ({(int)result}); the node's log says why under LlamaCpp");
        _running.Reject(finished);
        LogDecodeFailed(_logger, _replicaId, sequence.Id, result, finished.CompletionTokens);
    }

    /// <summary>Hands the report to the sink with the capacity as it is now. True when done: delivered, or dropped
    /// because the sequences it is about were cancelled silently meanwhile; false when the sink is full.</summary>
    private bool TryPublish(PlannedStep step)
    {
        lock (_lock)
        {
            return _running.TryPublish(step.Report, step.Epoch, _sink, _stats.WriteTo);
        }
    }

    /// <summary>The prompt in the model's tokens: a chat rendered by the GGUF's own template, else its text (for a chat,
    /// the scheduler's rendering) tokenized by the model's vocabulary, else its token ids, else (a prompt known only by
    /// its length) that many newline tokens. Null when an id is not in the vocabulary.</summary>
    private LLamaToken[]? Prompt(SequenceSpec spec)
    {
        if (spec.Messages.Count > 0 && _model.TokenizeChat(spec.Messages.Select(m => (m.Role, m.Content))) is { } chat)
        {
            return chat;
        }

        if (spec.Prompt.Length > 0)
        {
            return _model.Tokenize(spec.Prompt);
        }

        if (spec.PromptTokenIds.Count > 0)
        {
            return spec.PromptTokenIds.Any(OutOfVocabulary) ? null : [.. spec.PromptTokenIds.Select(id => (LLamaToken)id)];
        }

        var filler = _model.Vocabulary.Newline ?? _model.Vocabulary.BOS ?? (LLamaToken)0;
        return Enumerable.Repeat(filler, Math.Max(1, spec.PromptTokens)).ToArray();
    }

    /// <summary>A resumed sequence's delivered text (<see cref="SequenceSpec.ResumeText"/>) in the model's tokens, which it
    /// prefills instead of drawing the delivered tokens again one a step (<see cref="LlamaSequence"/>): those after the
    /// prompt's in the tokenization of the prompt followed by it, made as <see cref="Prompt"/> makes the prompt (so a
    /// tokenizer's leading-space rule sees the text mid-way, as the model drew it). Only when that makes at most the
    /// tokens delivered, which the sequence's KV reservation (prompt plus <c>max_tokens</c>) covers; fewer when the model
    /// drew apart pieces its tokenizer merges. Empty otherwise (the text is drawn again), without the text, and for token
    /// ids.</summary>
    private LLamaToken[] Replay(SequenceSpec spec, LLamaToken[] prompt)
    {
        if (spec.ResumeFromToken <= 0 || spec.ResumeText.Length == 0)
        {
            return [];
        }

        var continued = spec.Messages.Count > 0 && _model.TokenizeChat(spec.Messages.Select(m => (m.Role, m.Content)), spec.ResumeText) is { } chat
            ? chat
            : spec.Prompt.Length > 0 ? _model.Tokenize(spec.Prompt + spec.ResumeText) : [];
        return continued.Length > prompt.Length && continued.Length <= prompt.Length + spec.ResumeFromToken && continued.AsSpan().StartsWith(prompt)
            ? continued[prompt.Length..]
            : [];
    }

    private bool OutOfVocabulary(int tokenId) => tokenId < 0 || tokenId >= _model.Vocabulary.Count;

    /// <summary>Why the sequence can never run on this replica, in words for the tenant and in one word
    /// (<see cref="SequenceFinished.ErrorReason"/>), or null when it could.</summary>
    private (string Error, string Reason)? Fault(SequenceSpec spec, LLamaToken[]? prompt)
    {
        if (prompt is null)
        {
            return (string.Create(
                CultureInfo.InvariantCulture,
                $"prompt token id {spec.PromptTokenIds.First(OutOfVocabulary)} is outside the model's vocabulary of {_model.Vocabulary.Count:N0}"), ErrorReasons.TokenOutOfVocabulary);
        }

        var kvTokens = (long)prompt.Length + spec.MaxTokens;
        return kvTokens > _maxContextTokens
            ? (string.Create(
                CultureInfo.InvariantCulture,
                $"prompt is {prompt.Length:N0} tokens by the model's tokenizer; with max_tokens {spec.MaxTokens:N0} it needs {kvTokens:N0}, and the replica's context holds {_maxContextTokens:N0}"), ErrorReasons.ContextLengthExceeded)
            : null;
    }

    /// <summary>Lowers the max_tokens of a job whose client set none (<see cref="SequenceSpec.FitMaxTokens"/>: the scheduler
    /// gave it what its own count of the prompt leaves of the context) to what the model's count leaves of the replica's
    /// context. The model's tokenizer often counts more (a chat rendered by the catalog's template, on a model without
    /// one of its own, came to twice the scheduler's count on the tiny model), and every such job failed as too long —
    /// the OpenAI door's 400 context_length_exceeded — though its prompt fit. A prompt that leaves no room past the
    /// tokens already delivered is left to <see cref="Fault"/>.</summary>
    private void FitMaxTokens(SequenceSpec spec, LLamaToken[]? prompt)
    {
        if (spec.FitMaxTokens && prompt is not null && _maxContextTokens - prompt.Length is var room && room > spec.ResumeFromToken && room < spec.MaxTokens)
        {
            spec.MaxTokens = room;
        }
    }

    /// <summary>Why the sequence finds no room now (slots or KV cells), or null when it fits.</summary>
    private string? Refusal(SequenceSpec spec, LLamaToken[] prompt)
    {
        var kvTokens = (long)prompt.Length + spec.MaxTokens;
        return _running.Fits(kvTokens)
            ? null
            : $"{_running.Count}/{_profile.MaxSequences} slots, {_running.KvUsed}+{kvTokens}/{_profile.KvCapacityTokens} KV tokens";
    }

    /// <summary>Starts a screened admission: fails one no replica of this context can ever run, holds one that finds
    /// every slot taken while the queue ahead has room, refuses one that finds no room otherwise, else adds it to the batch.</summary>
    private void Start(SequenceSpec spec, LLamaToken[]? prompt)
    {
        FitMaxTokens(spec, prompt);
        if (Fault(spec, prompt) is var (fault, reason))
        {
            // No replica of this context can ever run it: queueing it again would bring it back forever.
            _running.ReportNext(new SequenceFinished
            {
                SequenceId = spec.SequenceId,
                Reason = FinishReason.Error,
                CompletionTokens = spec.ResumeFromToken,
                PromptTokens = prompt?.Length ?? 0,
                Error = fault,
                ErrorReason = reason,
            });
            LogFault(_logger, _replicaId, spec.SequenceId, fault);
            return;
        }

        if (Refusal(spec, prompt!) is { } refusal)
        {
            if (_running.TryQueueAhead(spec))
            {
                return;
            }

            _running.Reject(new SequenceFinished
            {
                SequenceId = spec.SequenceId,
                Reason = FinishReason.Rejected,
                CompletionTokens = spec.ResumeFromToken,
                PromptTokens = prompt!.Length,
            });
            LogRejected(_logger, _replicaId, spec.SequenceId, refusal);
            return;
        }

        // The batch owns the sequence once added; until then, this does.
        LlamaSequence? sequence = null;
        try
        {
            // Lazy: the running sequences' tokens are looked at only in a shared cache.
            var (slot, reused) = _slots.Take(prompt!, _running.Sequences.Select(s => (s.Slot, s.CachedTokens())));
            _cachedBlocks.Assign(slot, _keepsPrefixes ? SequenceBlocks.Of(spec)?.Hashes ?? [] : []);
            sequence = new LlamaSequence(spec, prompt!, Replay(spec, prompt!), slot, reused, _model.CreateTokenText());
            _running.Add(sequence);
            _admittedRank = Math.Min(_admittedRank, spec.FairRank);
            sequence = null;

            // In a shared cache, the reservation may need cells the free slots keep cached.
            _slots.MakeRoom(_running.KvUsed);
        }
        finally
        {
            sequence?.Dispose();
        }
    }

    /// <summary>Starts held admissions while slots are free, oldest first. A held prompt is tokenized again here, under
    /// the lock: the queue ahead, shared by every engine, keeps the scheduler's specs only, and this runs on the step
    /// loop's thread, which waits for the prompt's prefill anyway.</summary>
    private void StartQueuedAhead()
    {
        while (_running.TakeAhead() is { } spec)
        {
            Start(spec, Prompt(spec));
        }
    }

    /// <summary>Takes <paramref name="sequence"/> out of the batch and frees it.</summary>
    private void Leave(LlamaSequence sequence)
    {
        _running.Remove(sequence);
        Free(sequence);
    }

    /// <summary>Frees the slot of a sequence out of the batch at once, its KV cells kept there as prefix cache; its
    /// sampler goes before the next decode.</summary>
    private void Free(LlamaSequence sequence)
    {
        sequence.Leave();
        _slots.Release(sequence.Slot, sequence.CachedTokens());
        _left.Add(sequence);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Replica {ReplicaId} runs {ModelPath} with {Slots} slots, {ContextTokens} KV cells and {BatchTokens} tokens per decode")]
    private static partial void LogCreated(ILogger logger, string replicaId, string modelPath, int slots, uint contextTokens, int batchTokens);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replica {ReplicaId}: llama.cpp cannot cut the memory of {ModelPath} back to a prefix (a recurrent or hybrid model): every prompt is prefilled whole, none reuses a slot's cache")]
    private static partial void LogNoPrefixReuse(ILogger logger, string replicaId, string modelPath);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replica {ReplicaId} rejected sequence {SequenceId}: {Reason}")]
    private static partial void LogRejected(ILogger logger, string replicaId, string sequenceId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replica {ReplicaId} handed back sequence {SequenceId} holding {KvCells} KV cells, resuming at token {ResumeFrom}: llama.cpp refused the decodes waiting for KV cells {RefusedSteps} steps in a row; {Waiting} other sequences wait for the room")]
    private static partial void LogHandedBackForRoom(ILogger logger, string replicaId, string sequenceId, int kvCells, int refusedSteps, int resumeFrom, int waiting);

    [LoggerMessage(Level = LogLevel.Error, Message = "Replica {ReplicaId} handed back sequence {SequenceId}, resuming at token {ResumeFrom}: llama_decode failed the call holding it ({Result})")]
    private static partial void LogDecodeFailed(ILogger logger, string replicaId, string sequenceId, DecodeResult result, int resumeFrom);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replica {ReplicaId} can never run sequence {SequenceId}: {Error}")]
    private static partial void LogFault(ILogger logger, string replicaId, string sequenceId, string error);

    /// <summary>A step as planned: its <see cref="StepPlan"/> (for its calls' micro-batches) and its sequences' parts in
    /// slot order; as it runs, the calls that ran and the parts of a call llama.cpp refused. Used by the step loop.</summary>
    private sealed class StepCalls(StepPlan plan, List<StepEntry> entries)
    {
        public StepPlan Plan { get; } = plan;

        public List<StepEntry> Entries { get; } = entries;

        /// <summary>Sequences and tokens of each call that ran, for <see cref="LlamaEngineStats"/>.</summary>
        public List<(int Sequences, int Tokens)> Calls { get; } = [];

        /// <summary>The parts of the call that did not decode; null when none failed.</summary>
        public List<CallPart>? Refused { get; set; }
    }

    /// <summary>A sequence's part of a step: a prefill chunk of <paramref name="prefillChunk"/> input tokens starting
    /// <paramref name="offset"/> prompt tokens into the step's prefill, or its pending token when 0. A class: its calls
    /// add to it as they run.</summary>
    private sealed class StepEntry(LlamaSequence sequence, int prefillChunk, int offset)
    {
        public LlamaSequence Sequence { get; } = sequence;

        public int PrefillChunk { get; } = prefillChunk;

        public int Offset { get; } = offset;

        /// <summary>Of its part, what the calls that ran decoded: input tokens of the chunk, or 1 for the pending token.</summary>
        public int Done { get; set; }

        /// <summary>The tokens drawn for it by the calls that ran, in position order; null when none drew.</summary>
        public List<LLamaToken>? Draws { get; set; }
    }

    /// <summary>An entry's part of one call: once it runs the entry has <paramref name="Done"/> done, and draws from
    /// <paramref name="Logits"/> logits from batch index <paramref name="FirstLogits"/> (none when 0).</summary>
    private readonly record struct CallPart(StepEntry Entry, int Done, int FirstLogits, int Logits)
    {
        public CallPart(StepEntry entry, int done, (int First, int Count) logits)
            : this(entry, done, logits.First, logits.Count)
        {
        }
    }

    private sealed record PlannedStep(StepReport Report, long Epoch);
}
