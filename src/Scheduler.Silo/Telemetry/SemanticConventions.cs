namespace Scheduler.Silo.Telemetry;

/// <summary>Metric, attribute and span names: OpenTelemetry GenAI conventions where they exist, "scheduler.*" otherwise.
/// Prometheus shows a metric with dots as underscores and a counter with "_total" (docs/operations.md lists them).</summary>
internal static class SemanticConventions
{
    public const string TimeToFirstToken = "gen_ai.server.time_to_first_token";
    public const string TimePerOutputToken = "gen_ai.server.time_per_output_token";
    public const string TokenUsage = "scheduler.job.token.usage";
    public const string QueueWait = "scheduler.job.queue_wait";
    public const string Cost = "scheduler.job.cost.usd";

    /// <summary>Before 2026-12-06 the token usage histogram took the GenAI conventions' client metric name, which
    /// describes a client's view of its own calls, not a server's of every tenant's jobs; still exported under it while
    /// <see cref="TelemetryOptions.DeprecatedMetricNames"/> is on.</summary>
    public const string DeprecatedTokenUsage = "gen_ai.client.token.usage";

    /// <summary>Before 2026-12-06 the cost counter's unit "USD" made Prometheus call it <c>scheduler_job_cost_USD_total</c>
    /// (upper case, against Prometheus' naming); still exported under it while <see cref="TelemetryOptions.DeprecatedMetricNames"/> is on.</summary>
    public const string DeprecatedCost = "scheduler.job.cost";
    public const string JobsSubmitted = "scheduler.jobs.submitted";
    public const string JobsFinished = "scheduler.jobs.finished";
    public const string SubmissionsRefused = "scheduler.submissions.refused";
    public const string JobsQueued = "scheduler.jobs.queued";
    public const string StreamTokenBatches = "scheduler.stream.token_batches";
    public const string ReplicaRunningSequences = "scheduler.replica.running_sequences";
    public const string ReplicaFreeSlots = "scheduler.replica.free_slots";
    public const string ReplicaKvTokensUsed = "scheduler.replica.kv_tokens_used";
    public const string ReplicaKvTokensCapacity = "scheduler.replica.kv_tokens_capacity";
    public const string Accelerators = "scheduler.accelerators";
    public const string CapacityWantedReplicas = "scheduler.capacity.wanted_replicas";
    public const string TlsCertificateExpiry = "scheduler.tls.certificate.expiry";
    public const string RequestBodyHeldBytes = "scheduler.request_body.held_bytes";
    public const string RequestBodyRefused = "scheduler.request_body.refused";

    /// <summary>Which bound refused a request body: "silo" (the silo's budget) or "tenant" (the tenant's share of it).</summary>
    public const string RefusingBound = "bound";

    /// <summary>Kestrel's own (meter <see cref="KestrelMeter"/>), exported with the scheduler's: the connections each port
    /// has open, and those it closed at once over <c>Scheduler:MaxConnectionsPerPort</c>.</summary>
    public const string KestrelActiveConnections = "kestrel.active_connections";
    public const string KestrelRejectedConnections = "kestrel.rejected_connections";
    public const string KestrelMeter = "Microsoft.AspNetCore.Server.Kestrel";

    public const string RequestModel = "gen_ai.request.model";
    public const string TokenType = "gen_ai.token.type";
    public const string FinishReason = "gen_ai.response.finish_reason";
    public const string Tenant = "scheduler.tenant";

    /// <summary>The end user a client named (the OpenAI API's <c>user</c>).</summary>
    public const string EndUser = "enduser.id";
    public const string JobId = "scheduler.job.id";
    public const string Priority = "scheduler.job.priority";
    public const string AcceleratorProduct = "scheduler.accelerator.product";
    public const string AcceleratorState = "scheduler.accelerator.state";

    /// <summary>A worker pool: the node group an autoscaler grows (the name the worker pods' OTEL resource carries too).</summary>
    public const string WorkerPool = "scheduler.worker.pool";
    public const string ReplicaId = "scheduler.replica.id";
    public const string NodeId = "scheduler.node.id";
    public const string Outcome = "scheduler.job.outcome";

    /// <summary>Which front door a submission came in by (<c>Api.SubmissionDoors</c>).</summary>
    public const string Door = "scheduler.door";

    /// <summary>The status a call was answered with, by its canonical gRPC name (OpenTelemetry's RPC conventions).</summary>
    public const string RpcStatusCode = "rpc.response.status_code";

    public const string SubmitSpan = "submit job";
    public const string QueueSpan = "queue job";
    public const string RunSpan = "run job";
}
