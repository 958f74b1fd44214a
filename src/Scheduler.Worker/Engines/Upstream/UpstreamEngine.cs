using System.Globalization;
using System.Net.ServerSentEvents;
using System.Text.Json;
using Scheduler.Policies.Admission;
using Scheduler.Policies.Profiles;
using Scheduler.Protos.V1;
using Scheduler.Worker.Telemetry;

namespace Scheduler.Worker.Engines.Upstream;

/// <summary>
/// A replica that forwards each admitted sequence to an OpenAI-compatible server (vLLM, SGLang, TGI, a metered endpoint
/// such as Groq) as one streaming request, and reports the tokens as they arrive. The upstream batches; this engine
/// keeps its slots (the concurrency the upstream is given), honours the provider's request and token limits before
/// sending, and turns the upstream's failures into the scheduler's outcomes: a sequence it cannot serve now is handed
/// back (finished <see cref="FinishReason.Rejected"/>, from the tokens delivered), one it refuses fails with its message.
/// </summary>
/// <remarks>
/// Each sequence's request runs on its own task and queues what it receives under the lock; the step loop publishes
/// everything queued as one report whenever there is something, so a "step" is the time between two reports.
/// </remarks>
internal sealed partial class UpstreamEngine : IInferenceEngine
{
    // Without a Retry-After, a 429 holds the replica this long.
    private static readonly TimeSpan DefaultRateLimitHold = TimeSpan.FromSeconds(1);

    private readonly string _replicaId;
    private readonly AcceleratorProfile _profile;
    private readonly UpstreamReplicaSettings _settings;
    private readonly IStepReportSink _sink;
    private readonly TimeProvider _time;
    private readonly ILogger<UpstreamEngine> _logger;
    private readonly HttpClient _http;
    private readonly UpstreamLimiter _limiter;
    private readonly Lock _lock = new();
    private readonly RunningBatch<UpstreamSequence> _running;
    private readonly List<SequenceTokens> _tokens = [];

    // When the interval the next report covers began: its hourly cost is shared by the tokens it brings.
    private long? _intervalStart;

    /// <param name="replicaId">The replica's id.</param>
    /// <param name="profile">Slots (<see cref="AcceleratorProfile.MaxSequences"/>) and the prices the scheduler charges.</param>
    /// <param name="settings">The upstream and its limits.</param>
    /// <param name="sink">Where step reports go.</param>
    /// <param name="time">The clock of the limiter and of the reports' step times.</param>
    /// <param name="logger">The engine's logger.</param>
    /// <param name="handler">The HTTP handler; a <see cref="SocketsHttpHandler"/> with the settings' connect timeout when null.</param>
    /// <param name="meter">Where the replica's metrics go; null records none.</param>
    public UpstreamEngine(
        string replicaId,
        AcceleratorProfile profile,
        UpstreamReplicaSettings settings,
        IStepReportSink sink,
        TimeProvider time,
        ILogger<UpstreamEngine> logger,
        HttpMessageHandler? handler = null,
        ReplicaMeter? meter = null)
    {
        _replicaId = replicaId;
        _profile = profile;
        _settings = settings;
        _sink = sink;
        _time = time;
        _logger = logger;
        _running = new RunningBatch<UpstreamSequence>(replicaId, profile, time, meter: meter);
        _limiter = new UpstreamLimiter(settings.RequestsPerMinute, settings.TokensPerMinute, time);
        // Requests go to v1/... under the server's root; a base given with its /v1 (as OpenAI clients take it) is that root's.
        var root = settings.BaseUri.AbsoluteUri.TrimEnd('/');
        var baseUri = new Uri((root.EndsWith("/v1", StringComparison.Ordinal) ? root[..^3] : root) + "/");
#pragma warning disable CA2000 // The client owns the handler and disposes it with itself.
        _http = new HttpClient(handler ?? new SocketsHttpHandler { ConnectTimeout = settings.ConnectTimeout })
        {
            BaseAddress = baseUri,

            // A stream lasts as long as the generation; cancellation, not a timeout, ends it.
            Timeout = Timeout.InfiniteTimeSpan,
        };
#pragma warning restore CA2000
        LogCreated(logger, replicaId, baseUri, settings.Model, profile.MaxSequences, settings.RequestsPerMinute, settings.TokensPerMinute);
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

    public void Admit(IEnumerable<SequenceSpec> sequences)
    {
        lock (_lock)
        {
            foreach (var spec in sequences)
            {
                Admit(spec);
            }

            _running.Wake();
        }
    }

    public void Cancel(IEnumerable<string> sequenceIds, FinishReason reason)
    {
        lock (_lock)
        {
            _running.Cancel(sequenceIds, reason).ForEach(s => s.Leave());
            _running.Wake();
        }
    }

    public void CancelAllSilently()
    {
        lock (_lock)
        {
            _running.DropAll().ForEach(s => s.Leave());
            _tokens.Clear();
        }
    }

    public Task RunAsync(CancellationToken cancellationToken) =>
        BusyLoop.RunAsync<PlannedStep>(TakeStep, TryPublish, _running.WaitForWorkAsync, _sink, cancellationToken);

    public void Dispose()
    {
        CancelAllSilently();
        _http.Dispose();
        _running.Dispose();
    }

    private void Admit(SequenceSpec spec)
    {
        if (_running.Screen(spec) is var skipped and not ScreenedAdmission.Run)
        {
            _logger.LogSkipped(_replicaId, spec.SequenceId, skipped);
            return;
        }

        var fault = UpstreamRequest.Fault(spec, _settings);
        var request = fault is null ? UpstreamRequest.Create(spec, _settings) : null;
        if (request is not null && request.EstimatedTokens > _limiter.MaxTokensPerRequest)
        {
            fault = string.Create(
                CultureInfo.InvariantCulture,
                $"the request needs about {request.EstimatedTokens:N0} tokens (prompt plus max_tokens), more than the upstream's {_limiter.MaxTokensPerRequest:N0} tokens per minute");
        }

        if (fault is not null)
        {
            // No replica of this upstream can ever run it: queueing it again would bring it back forever.
            _running.ReportNext(new SequenceFinished { SequenceId = spec.SequenceId, Reason = FinishReason.Error, CompletionTokens = spec.ResumeFromToken, Error = fault });
            LogFault(_logger, _replicaId, spec.SequenceId, fault);
            return;
        }

        var held = _limiter.HeldFor();
        var kvTokens = (long)SchedulerPromptTokens.Of(spec) + spec.MaxTokens;
        if (held > TimeSpan.Zero || !_running.Fits(kvTokens))
        {
            _running.Reject(new SequenceFinished { SequenceId = spec.SequenceId, Reason = FinishReason.Rejected, CompletionTokens = spec.ResumeFromToken });
            var why = held > TimeSpan.Zero
                ? string.Create(CultureInfo.InvariantCulture, $"the upstream rate-limited it; held {held.TotalSeconds:0.#} s more")
                : string.Create(CultureInfo.InvariantCulture, $"{_running.Count}/{_profile.MaxSequences} slots busy");
            LogRejected(_logger, _replicaId, spec.SequenceId, why);
            return;
        }

        var sequence = new UpstreamSequence(spec, request!, kvTokens);
        _intervalStart ??= _time.GetTimestamp();
        _running.Add(sequence);
        _ = Task.Run(() => ForwardAsync(sequence));
    }

    /// <summary>Sends the sequence's request once the limits allow and reports its stream; every way it can end is
    /// reported here, except leaving the batch (cancelled, dropped), which the batch reported.</summary>
    private async Task ForwardAsync(UpstreamSequence sequence)
    {
        var request = sequence.Request;

        // Cancelled when the sequence leaves the batch, or when the upstream has been silent for IdleTimeout: every
        // event it sends restarts that wait (ReadAsync).
        using var quiet = new CancellationTokenSource(Timeout.InfiniteTimeSpan, _time);
        using var left = sequence.Cancellation.Token.Register(quiet.Cancel);
        var cancellationToken = quiet.Token;
        var sent = false;
        try
        {
            var wait = _limiter.Reserve(request.EstimatedTokens);
            if (wait > TimeSpan.Zero)
            {
                LogThrottled(_logger, _replicaId, sequence.Id, wait.TotalMilliseconds);
                await Task.Delay(wait, _time, cancellationToken);
            }

            sent = true;
            quiet.CancelAfter(_settings.IdleTimeout);
            using var message = request.ToHttp(_settings.ApiKey);
            using var response = await _http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw await UpstreamFailure.FromResponseAsync(response, _time, cancellationToken);
            }

            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
            var finishReason = await ReadAsync(sequence, stream, quiet);
            Complete(sequence, finishReason);
        }
        catch (OperationCanceledException) when (sequence.Cancellation.IsCancellationRequested)
        {
            // The sequence left the batch (cancelled, dropped, or done at max_tokens) and was reported then.
        }
        catch (OperationCanceledException) when (quiet.IsCancellationRequested)
        {
            Fail(sequence, new UpstreamFailure(
                UpstreamFailureKind.HandBack,
                string.Create(CultureInfo.InvariantCulture, $"upstream {_settings.BaseUri} sent nothing for {_settings.IdleTimeout.TotalSeconds:0.#} s (IdleTimeoutSeconds)")));
        }
        catch (UpstreamFailure failure)
        {
            Fail(sequence, failure);
        }
        catch (JsonException ex)
        {
            Fail(sequence, new UpstreamFailure(UpstreamFailureKind.HandBack, $"upstream {_settings.BaseUri} sent an event that is not a completion chunk: {ex.Message}", inner: ex));
        }
        catch (Exception ex)
        {
            // Unreachable, reset, a connect timeout, a stream cut off: the upstream could not serve it now. Whatever
            // it was, the sequence must not stay in the batch with no request behind it.
            // .NET's outer message ("An error occurred while sending the request.") hides what happened; the innermost says it.
            var cause = ex.GetBaseException().Message;
            Fail(sequence, new UpstreamFailure(
                UpstreamFailureKind.HandBack, $"upstream {_settings.BaseUri} failed: {ex.Message}{(cause == ex.Message ? "" : $" ({cause})")}", inner: ex));
        }
        finally
        {
            // The unused part of the reservation goes back; all of it, with the request, when nothing was sent.
            var used = sequence.Usage is { } usage ? usage.PromptTokens + usage.CompletionTokens : request.EstimatedTokens - request.MaxTokens + sequence.Delivered;
            _limiter.Refund(sent ? Math.Max(0, request.EstimatedTokens - used) : request.EstimatedTokens, request: !sent);
        }
    }

    /// <summary>Reports the stream's text as it arrives; returns the upstream's finish reason once the stream ended.</summary>
    /// <exception cref="UpstreamFailure">The stream carried an error or broke off before the completion ended.</exception>
    private async Task<string?> ReadAsync(UpstreamSequence sequence, Stream stream, CancellationTokenSource quiet)
    {
        string? finishReason = null;
        await foreach (var item in SseParser.Create(stream).EnumerateAsync(quiet.Token))
        {
            quiet.CancelAfter(_settings.IdleTimeout);
            if (item.Data.Trim() == UpstreamChunk.Done)
            {
                break;
            }

            var chunk = UpstreamChunk.Parse(item.Data);
            if (chunk.Error is { } error)
            {
                throw new UpstreamFailure(UpstreamFailureKind.HandBack, $"upstream {_settings.BaseUri} failed mid-stream: {error}");
            }

            finishReason = chunk.FinishReason ?? finishReason;
            sequence.Usage = chunk.Usage ?? sequence.Usage;
            if (chunk.Text.Length > 0)
            {
                Deliver(sequence, chunk.Text);
            }
        }

        // Some servers end the stream without [DONE]; a finish reason already said the completion was whole, unless it
        // says the server gave up on it (vLLM's "abort", an "error").
        return finishReason is null or "abort" or "error"
            ? throw new UpstreamFailure(
                UpstreamFailureKind.HandBack,
                string.Create(CultureInfo.InvariantCulture, $"upstream {_settings.BaseUri} ended the completion after {sequence.ReceivedSoFar} without finishing it (finish reason {finishReason ?? "none"})"))
            : finishReason;
    }

    private void Deliver(UpstreamSequence sequence, string text)
    {
        lock (_lock)
        {
            if (!sequence.Active || sequence.Accept(text) is not { } tokens)
            {
                return;
            }

            _tokens.Add(tokens);
            if (sequence.EndReason is { } reason)
            {
                // max_tokens by this side's count: done, whatever the upstream still sends.
                Leave(sequence, reason);
            }

            _running.Wake();
        }
    }

    private void Complete(UpstreamSequence sequence, string? finishReason)
    {
        lock (_lock)
        {
            if (!sequence.Active)
            {
                return;
            }

            if (sequence.Uncounted() is { } uncounted)
            {
                _tokens.Add(uncounted);
            }

            var reason = finishReason == "length" || sequence.NextTokenIndex >= sequence.Spec.MaxTokens ? FinishReason.Length : FinishReason.Stop;
            Leave(sequence, reason);
            _running.Wake();
        }
    }

    private void Fail(UpstreamSequence sequence, UpstreamFailure failure)
    {
        lock (_lock)
        {
            if (!sequence.Active)
            {
                return;
            }

            sequence.Leave();
            _running.Remove(sequence);
            if (failure.Kind == UpstreamFailureKind.Refused)
            {
                var finished = sequence.Finished(FinishReason.Error);
                finished.Error = failure.Message;
                _running.ReportNext(finished);
                LogFault(_logger, _replicaId, sequence.Id, failure.Message);
            }
            else
            {
                if (failure.Kind == UpstreamFailureKind.RateLimited)
                {
                    _limiter.HoldUntil(_time.GetUtcNow() + (failure.RetryAfter ?? DefaultRateLimitHold));
                }

                // Rejected is the scheduler's hand-back: the job resumes elsewhere after the tokens delivered here. The
                // error tells the scheduler it was a failure, not a want of room: the job shows it, and it is counted.
                var handedBack = sequence.Finished(FinishReason.Rejected);
                handedBack.Error = failure.Message;
                _running.Reject(handedBack);
                LogHandedBack(_logger, failure.InnerException, _replicaId, sequence.Id, sequence.NextTokenIndex, failure.Message);
            }

            _running.Wake();
        }
    }

    private void Leave(UpstreamSequence sequence, FinishReason reason)
    {
        sequence.Leave();
        _running.Remove(sequence);
        _running.ReportNext(sequence.Finished(reason));
    }

    /// <summary>The tokens and finishes queued since the last report, as the next one; null when there are none.</summary>
    private PlannedStep? TakeStep()
    {
        lock (_lock)
        {
            if (_tokens.Count == 0 && !_running.HasFinishesToReport)
            {
                return null;
            }

            var report = _running.StartReport();
            report.Tokens.AddRange(_tokens);
            _tokens.Clear();
            var now = _time.GetTimestamp();
            report.StepMs = _intervalStart is { } start ? _time.GetElapsedTime(start, now).TotalMilliseconds : 0;
            _intervalStart = _running.Count > 0 ? now : null;
            _running.RecordTokens(report.Tokens.Sum(t => t.TokenCount));
            return new PlannedStep(report, _running.Epoch);
        }
    }

    private bool TryPublish(PlannedStep step)
    {
        lock (_lock)
        {
            return _running.TryPublish(step.Report, step.Epoch, _sink);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Replica {ReplicaId} forwards to {BaseUri} (model {Model}) with {Slots} slots, {RequestsPerMinute} requests and {TokensPerMinute} tokens per minute (0: no limit)")]
    private static partial void LogCreated(ILogger logger, string replicaId, Uri baseUri, string model, int slots, int requestsPerMinute, int tokensPerMinute);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replica {ReplicaId} rejected sequence {SequenceId}: {Reason}")]
    private static partial void LogRejected(ILogger logger, string replicaId, string sequenceId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replica {ReplicaId} cannot run sequence {SequenceId}: {Error}")]
    private static partial void LogFault(ILogger logger, string replicaId, string sequenceId, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replica {ReplicaId} handed sequence {SequenceId} back after {Delivered} tokens: {Error}")]
    private static partial void LogHandedBack(ILogger logger, Exception? exception, string replicaId, string sequenceId, int delivered, string error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Replica {ReplicaId} holds sequence {SequenceId} {WaitMs} ms for the upstream's rate limits")]
    private static partial void LogThrottled(ILogger logger, string replicaId, string sequenceId, double waitMs);

    private sealed record PlannedStep(StepReport Report, long Epoch);
}
