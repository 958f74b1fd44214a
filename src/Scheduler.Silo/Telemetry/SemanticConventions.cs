namespace Scheduler.Silo.Telemetry;

/// <summary>Metric and attribute names: OpenTelemetry GenAI conventions where they exist, "scheduler.*" otherwise.</summary>
internal static class SemanticConventions
{
    public const string TimeToFirstToken = "gen_ai.server.time_to_first_token";
    public const string TimePerOutputToken = "gen_ai.server.time_per_output_token";
    public const string TokenUsage = "gen_ai.client.token.usage";
    public const string QueueWait = "scheduler.job.queue_wait";
    public const string Cost = "scheduler.job.cost";
    public const string JobsSubmitted = "scheduler.jobs.submitted";
    public const string JobsFinished = "scheduler.jobs.finished";

    public const string RequestModel = "gen_ai.request.model";
    public const string TokenType = "gen_ai.token.type";
    public const string Tenant = "scheduler.tenant";

    /// <summary>The end user a client named (the OpenAI API's <c>user</c>).</summary>
    public const string EndUser = "enduser.id";
    public const string JobId = "scheduler.job.id";
    public const string AcceleratorProduct = "scheduler.accelerator.product";
    public const string Outcome = "scheduler.job.outcome";
}
