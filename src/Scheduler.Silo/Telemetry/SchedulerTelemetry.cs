using System.Diagnostics;
using System.Diagnostics.Metrics;
using Scheduler.Abstractions.Jobs;

namespace Scheduler.Silo.Telemetry;

/// <summary>
/// Owns the scheduler's <see cref="ActivitySource"/> and <see cref="Meter"/>; instruments are created once.
/// Names follow the OpenTelemetry GenAI semantic conventions where one exists.
/// </summary>
internal sealed class SchedulerTelemetry : IDisposable
{
    public const string Name = "Scheduler";

    private readonly Meter _meter;
    private readonly Histogram<double> _timeToFirstToken;
    private readonly Histogram<double> _timePerOutputToken;
    private readonly Histogram<long> _tokenUsage;
    private readonly Histogram<double> _queueWait;
    private readonly Counter<double> _cost;
    private readonly Counter<long> _jobsSubmitted;
    private readonly Counter<long> _jobsFinished;

    public SchedulerTelemetry(IMeterFactory meters)
    {
        _meter = meters.Create(Name);
        _timeToFirstToken = _meter.CreateHistogram<double>(SemanticConventions.TimeToFirstToken, "s", "Time from submission to the first output token.");
        _timePerOutputToken = _meter.CreateHistogram<double>(SemanticConventions.TimePerOutputToken, "s", "Time per output token after the first.");
        _tokenUsage = _meter.CreateHistogram<long>(SemanticConventions.TokenUsage, "{token}", "Tokens used per job, by type.");
        _queueWait = _meter.CreateHistogram<double>(SemanticConventions.QueueWait, "s", "Time a job waited in its tenant's queue.");
        _cost = _meter.CreateCounter<double>(SemanticConventions.Cost, "USD", "Cost of finished jobs.");
        _jobsSubmitted = _meter.CreateCounter<long>(SemanticConventions.JobsSubmitted, "{job}", "Jobs accepted.");
        _jobsFinished = _meter.CreateCounter<long>(SemanticConventions.JobsFinished, "{job}", "Jobs finished, by outcome.");
    }

    public ActivitySource Source { get; } = new(Name);

    /// <summary>The span of a submission; its id travels with the job to the worker as W3C trace context.</summary>
    public Activity? StartSubmit(string jobId, string tenant, string model) =>
        Source.StartActivity("submit job", ActivityKind.Server, default(ActivityContext), [
            new(SemanticConventions.JobId, jobId),
            new(SemanticConventions.Tenant, tenant),
            new(SemanticConventions.RequestModel, model),
        ]);

    public void JobSubmitted(string tenant, string model) =>
        _jobsSubmitted.Add(1, new(SemanticConventions.Tenant, tenant), new(SemanticConventions.RequestModel, model));

    public void JobFinished(string tenant, string model, string product, JobOutcome outcome)
    {
        var tenantTag = new KeyValuePair<string, object?>(SemanticConventions.Tenant, tenant);
        var modelTag = new KeyValuePair<string, object?>(SemanticConventions.RequestModel, model);
        var productTag = new KeyValuePair<string, object?>(SemanticConventions.AcceleratorProduct, product);
        var u = outcome.Usage;
        _jobsFinished.Add(1, tenantTag, modelTag, new(SemanticConventions.Outcome, outcome.FinishReason));
        _tokenUsage.Record(u.PromptTokens, tenantTag, modelTag, new(SemanticConventions.TokenType, "input"));
        _tokenUsage.Record(u.CompletionTokens, tenantTag, modelTag, new(SemanticConventions.TokenType, "output"));
        _cost.Add(u.CostUsd, tenantTag, modelTag, productTag);
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
}
