using System.Diagnostics;
using System.Diagnostics.Metrics;
using Grpc.Core;
using Microsoft.Extensions.Options;
using Scheduler.Abstractions.Jobs;
using Scheduler.Grains.Jobs;
using Scheduler.Protos.Tls;
using Scheduler.Silo.Api;

namespace Scheduler.Silo.Telemetry;

/// <summary>
/// Owns the scheduler's <see cref="ActivitySource"/> and <see cref="Meter"/>; instruments are created once.
/// Names follow the OpenTelemetry GenAI semantic conventions where one exists (<see cref="SemanticConventions"/>).
/// A job's trace: "submit job" (the front door), then for each dispatch "queue job" (from submission to admission) and
/// "run job" (from admission to the end the node reported), whose context the worker's prefill and decode spans
/// continue.
/// Started with the host only so that it exists from the start: made at the first job or node link instead, a silo
/// no job or node had reached yet exported none of its gauges, the front door certificate's expiry among them.
/// </summary>
internal sealed class SchedulerTelemetry : IJobOutcomeObserver, IHostedService, IDisposable
{
    public const string Name = "Scheduler";

    private readonly Meter _meter;
    private readonly Histogram<double> _timeToFirstToken;
    private readonly Histogram<double> _timePerOutputToken;
    // Each under its name and, for a deprecation window, its old one (TelemetryOptions.DeprecatedMetricNames).
    private readonly Histogram<long>[] _tokenUsage;
    private readonly Histogram<double> _queueWait;
    private readonly Counter<double>[] _cost;
    private readonly Counter<long> _jobsSubmitted;
    private readonly Counter<long> _jobsFinished;
    private readonly Counter<long> _submissionsRefused;
    private readonly Counter<long> _tokenBatches;

    // frontDoorCertificate: null when the front door is cleartext, and then no expiry gauge; requestBodies: null in a
    // host without the front doors (the grain tests' cluster).
    public SchedulerTelemetry(
        IMeterFactory meters, FleetGauges fleet, IOptions<TelemetryOptions> options, ServerCertificateReloader? frontDoorCertificate = null, RequestBodyBudget? requestBodies = null)
    {
        _meter = meters.Create(Name);
        _timeToFirstToken = _meter.CreateHistogram(SemanticConventions.TimeToFirstToken, "s", "Time from submission to the first output token.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = HistogramBuckets.TimeToFirstTokenSeconds });
        _timePerOutputToken = _meter.CreateHistogram(SemanticConventions.TimePerOutputToken, "s", "Time per output token after the first.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = HistogramBuckets.TimePerOutputTokenSeconds });
        _queueWait = _meter.CreateHistogram(SemanticConventions.QueueWait, "s", "Time a job waited in its tenant's queue.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = HistogramBuckets.QueueWaitSeconds });
        var tokens = new InstrumentAdvice<long> { HistogramBucketBoundaries = HistogramBuckets.Tokens };
        var tokenUsage = _meter.CreateHistogram(SemanticConventions.TokenUsage, "{token}", "Tokens used per job, by type.", advice: tokens);

        // A curly-braced unit is an annotation Prometheus leaves out of the name: scheduler_job_cost_usd_total.
        var cost = _meter.CreateCounter<double>(SemanticConventions.Cost, "{USD}", "Cost of finished jobs, in US dollars.");
        _tokenUsage = [tokenUsage];
        _cost = [cost];
        if (options.Value.DeprecatedMetricNames)
        {
            _tokenUsage = [tokenUsage, _meter.CreateHistogram(SemanticConventions.DeprecatedTokenUsage, "{token}", $"Deprecated: read {SemanticConventions.TokenUsage}.", advice: tokens)];
            _cost = [cost, _meter.CreateCounter<double>(SemanticConventions.DeprecatedCost, "USD", $"Deprecated: read {SemanticConventions.Cost}.")];
        }

        _jobsSubmitted = _meter.CreateCounter<long>(SemanticConventions.JobsSubmitted, "{job}", "Jobs accepted (a resubmission with the same idempotency key is not counted again).");
        _jobsFinished = _meter.CreateCounter<long>(SemanticConventions.JobsFinished, "{job}", "Jobs finished, by outcome: completed, failed, cancelled or expired.");
        _submissionsRefused = _meter.CreateCounter<long>(SemanticConventions.SubmissionsRefused, "{submission}", "Submissions refused after authentication, by front door and status: bad fields, quotas, a draining silo, a reused idempotency key.");
        _tokenBatches = _meter.CreateCounter<long>(
            SemanticConventions.StreamTokenBatches, "{batch}",
            "Batches of a job's tokens handed to a client's stream, by tenant (on gRPC a TokenChunk message each): output tokens over these are the tokens a batch carried, which Scheduler:TokenStreamIntervalMilliseconds raises.");
        _meter.CreateObservableGauge(SemanticConventions.JobsQueued, () => fleet.Current.QueuedJobs, "{job}", "Jobs waiting in a model's queue, by tenant and priority.");
        _meter.CreateObservableGauge(SemanticConventions.ReplicaRunningSequences, () => fleet.Current.RunningSequences, "{sequence}", "Sequences running on a replica.");
        _meter.CreateObservableGauge(SemanticConventions.ReplicaFreeSlots, () => fleet.Current.FreeSlots, "{sequence}", "Sequence slots a replica has free.");
        _meter.CreateObservableGauge(SemanticConventions.ReplicaKvTokensUsed, () => fleet.Current.KvTokensUsed, "{token}", "KV-cache tokens reserved by a replica's running sequences.");
        _meter.CreateObservableGauge(SemanticConventions.ReplicaKvTokensCapacity, () => fleet.Current.KvTokensCapacity, "{token}", "KV-cache tokens a replica holds.");
        _meter.CreateObservableGauge(SemanticConventions.Accelerators, () => fleet.Current.Accelerators, "{accelerator}", "Accelerators by product and state.");
        _meter.CreateObservableGauge(SemanticConventions.CapacityWantedReplicas, () => fleet.Current.WantedReplicas, "{replica}", "Replicas a model's placement wants of a worker pool, for an autoscaler to follow.");
        if (requestBodies is not null)
        {
            _meter.CreateObservableGauge(SemanticConventions.RequestBodyHeldBytes, () => requestBodies.Held, "{byte}",
                "Bytes of request bodies being read and parsed, of Scheduler:MaxRequestBodyBytesInFlight.");
            _meter.CreateObservableCounter(
                SemanticConventions.RequestBodyRefused,
                () => (Measurement<long>[])
                [
                    new(requestBodies.RefusedBySilo, new KeyValuePair<string, object?>(SemanticConventions.RefusingBound, "silo")),
                    new(requestBodies.RefusedByShare, new KeyValuePair<string, object?>(SemanticConventions.RefusingBound, "tenant")),
                ],
                "{request}",
                "Requests refused before their body was read, because Scheduler:MaxRequestBodyBytesInFlight (bound=silo) or their tenant's Scheduler:MaxRequestBodyBytesPerTenant (bound=tenant) was in use.");
        }

        if (frontDoorCertificate is not null)
        {
            // A time rather than the seconds left (as cert-manager's own gauge): it changes only when a renewed
            // certificate is served, and an alert compares it with time().
            _meter.CreateObservableGauge(SemanticConventions.TlsCertificateExpiry, () => new DateTimeOffset(frontDoorCertificate.Current.Leaf.NotAfter).ToUnixTimeSeconds(),
                "s", "When the certificate the front door serves expires, in seconds since the Unix epoch.");
        }
    }

    public ActivitySource Source { get; } = new(Name);

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>The span of a submission, made <see cref="Activity.Current"/>; its context travels with the job
    /// (<see cref="JobRequest.TraceParent"/>). Its parent is the caller's trace context (a traceparent header) if it sent
    /// one; otherwise the submission starts the job's trace.</summary>
    public Activity? StartSubmit(string jobId, string tenant, string model)
    {
        // Not a child of ASP.NET Core's request activity: no instrumentation exports it, and made without a sampler it
        // is never marked recorded, so as a parent it would make the parent-based sampler drop the job's whole trace.
        var request = Activity.Current;
        var parent = request is { HasRemoteParent: true }
            ? new ActivityContext(request.TraceId, request.ParentSpanId, request.ActivityTraceFlags, request.TraceStateString, isRemote: true)
            : default;
        Activity.Current = null;
        var submit = Source.StartActivity(SemanticConventions.SubmitSpan, ActivityKind.Server, parent, [
            new(SemanticConventions.JobId, jobId),
            new(SemanticConventions.Tenant, tenant),
            new(SemanticConventions.RequestModel, model),
        ]);
        if (submit is null)
        {
            Activity.Current = request;
        }

        return submit;
    }

    /// <summary>Records the wait from submission to this admission as a finished "queue job" span, and starts the
    /// "run job" span whose context goes to the worker with the sequence. Null when the job carries no trace context
    /// or nobody listens. Neither span becomes <see cref="Activity.Current"/>: admissions are not the caller's work.</summary>
    public Activity? StartRun(JobTicket ticket, JobPlacement placement, DateTimeOffset now)
    {
        if (!ActivityContext.TryParse(ticket.Request.TraceParent, null, out var job))
        {
            return null;
        }

        var previous = Activity.Current;
        try
        {
            using (var queued = Source.StartActivity(SemanticConventions.QueueSpan, ActivityKind.Internal, job, JobTags(ticket), startTime: ticket.SubmittedAt))
            {
                queued?.SetEndTime(now.UtcDateTime);
            }

            var run = Source.StartActivity(SemanticConventions.RunSpan, ActivityKind.Client, job, JobTags(ticket), startTime: now);
            run?.SetTag(SemanticConventions.ReplicaId, placement.ReplicaId)
                .SetTag(SemanticConventions.NodeId, placement.NodeId)
                .SetTag(SemanticConventions.AcceleratorProduct, placement.Product);
            return run;
        }
        finally
        {
            Activity.Current = previous;
        }
    }

    /// <summary>Ends a "run job" span: the job finished on its node (<paramref name="outcome"/>), or it left the node
    /// unfinished and goes back to its queue (<paramref name="handedBack"/> says why).</summary>
    public static void EndRun(Activity? run, DateTimeOffset now, JobOutcome? outcome, string? handedBack = null)
    {
        if (run is null)
        {
            return;
        }

        if (outcome is not null)
        {
            run.SetTag(SemanticConventions.Outcome, OutcomeName(outcome.Status))
                .SetTag(SemanticConventions.FinishReason, outcome.FinishReason);
            if (outcome.Status == JobStatus.Failed)
            {
                run.SetStatus(ActivityStatusCode.Error, outcome.Error);
            }
        }
        else
        {
            run.SetStatus(ActivityStatusCode.Error, "handed back: " + handedBack);
        }

        run.SetEndTime(now.UtcDateTime);
        run.Stop();
    }

    /// <summary>Counts an accepted submission; a resubmission that returned an earlier job is not one.</summary>
    public void JobSubmitted(string tenant, string model) =>
        _jobsSubmitted.Add(1, new(SemanticConventions.Tenant, tenant), new(SemanticConventions.RequestModel, model));

    /// <summary>Counts a submission a tenant was refused. A refusal on a <c>StreamJobs</c> call leaves the call itself
    /// successful, so no per-call status shows it: this counter is where an operator sees it, for every door alike.</summary>
    public void SubmissionRefused(string door, string tenant, StatusCode code) =>
        _submissionsRefused.Add(1, new(SemanticConventions.Door, door), new(SemanticConventions.Tenant, tenant), new(SemanticConventions.RpcStatusCode, StatusName(code)));

    /// <summary>Counts a batch of <paramref name="tenant"/>'s tokens handed to a client's stream.</summary>
    public void TokenBatchStreamed(string tenant) => _tokenBatches.Add(1, new KeyValuePair<string, object?>(SemanticConventions.Tenant, tenant));

    /// <inheritdoc />
    public void Settled(JobTicket ticket, JobPlacement? placement, JobOutcome outcome)
    {
        var tenantTag = new KeyValuePair<string, object?>(SemanticConventions.Tenant, ticket.TenantId);
        var modelTag = new KeyValuePair<string, object?>(SemanticConventions.RequestModel, ticket.Request.Model);
        _jobsFinished.Add(1, tenantTag, modelTag, new(SemanticConventions.Outcome, OutcomeName(outcome.Status)));
        var u = outcome.Usage;
        if (u.NeverRan)
        {
            // It used nothing and has no latency to show.
            return;
        }

        // The placement is sent to the record one-way and may arrive after the outcome.
        var productTag = new KeyValuePair<string, object?>(SemanticConventions.AcceleratorProduct, placement?.Product ?? "unknown");
        foreach (var tokenUsage in _tokenUsage)
        {
            tokenUsage.Record(u.PromptTokens, tenantTag, modelTag, new(SemanticConventions.TokenType, "input"));
            tokenUsage.Record(u.CompletionTokens, tenantTag, modelTag, new(SemanticConventions.TokenType, "output"));
        }

        foreach (var cost in _cost)
        {
            cost.Add(u.CostUsd, tenantTag, modelTag, productTag);
        }
        _queueWait.Record(u.QueueMs / 1000, tenantTag, modelTag);
        if (u.CompletionTokens > 0)
        {
            _timeToFirstToken.Record(u.TtftMs / 1000, modelTag, productTag);
        }

        if (u.CompletionTokens > 1)
        {
            _timePerOutputToken.Record((u.TotalMs - u.TtftMs) / 1000 / (u.CompletionTokens - 1), modelTag, productTag);
        }
    }

    public void Dispose()
    {
        Source.Dispose();
        _meter.Dispose();
    }

    /// <summary>gRPC's canonical name of a status (<c>RESOURCE_EXHAUSTED</c>), as its specification and every other
    /// language's gRPC spell it; .NET's enum names differ.</summary>
    private static string StatusName(StatusCode code) => code switch
    {
        StatusCode.OK => "OK",
        StatusCode.Cancelled => "CANCELLED",
        StatusCode.Unknown => "UNKNOWN",
        StatusCode.InvalidArgument => "INVALID_ARGUMENT",
        StatusCode.DeadlineExceeded => "DEADLINE_EXCEEDED",
        StatusCode.NotFound => "NOT_FOUND",
        StatusCode.AlreadyExists => "ALREADY_EXISTS",
        StatusCode.PermissionDenied => "PERMISSION_DENIED",
        StatusCode.ResourceExhausted => "RESOURCE_EXHAUSTED",
        StatusCode.FailedPrecondition => "FAILED_PRECONDITION",
        StatusCode.Aborted => "ABORTED",
        StatusCode.OutOfRange => "OUT_OF_RANGE",
        StatusCode.Unimplemented => "UNIMPLEMENTED",
        StatusCode.Internal => "INTERNAL",
        StatusCode.Unavailable => "UNAVAILABLE",
        StatusCode.DataLoss => "DATA_LOSS",
        StatusCode.Unauthenticated => "UNAUTHENTICATED",
        _ => "UNKNOWN",
    };

    private static string OutcomeName(JobStatus status) => status.ToString().ToLowerInvariant();

    private static KeyValuePair<string, object?>[] JobTags(JobTicket ticket) =>
    [
        new(SemanticConventions.JobId, ticket.JobId),
        new(SemanticConventions.Tenant, ticket.TenantId),
        new(SemanticConventions.RequestModel, ticket.Request.Model),
    ];
}
