using Scheduler.Policies.Prefix;

namespace Scheduler.Policies;

/// <summary>What a queued job asks of the fleet; everything a policy needs to rank and place it.</summary>
/// <param name="JobId">Unique job id.</param>
/// <param name="TenantId">Owning tenant.</param>
/// <param name="PromptTokens">Prompt length in the model's tokens.</param>
/// <param name="MaxTokens">Tokens to generate at most.</param>
/// <param name="Priority">Strict priority class.</param>
/// <param name="TtftObjectiveMs">Objective for the time to first token.</param>
/// <param name="EnqueuedAt">When the job entered its queue.</param>
/// <param name="Deadline">When the job must have finished, if the tenant set a deadline: it orders the tenant's
/// jobs (earliest deadline first) and a job that can no longer make it expires instead of running.</param>
/// <param name="Blocks">The prompt's blocks, by which a replica's prefix cache is matched; null when the prompt is
/// shorter than a block (nothing to reuse).</param>
/// <param name="SessionId">The conversation the job belongs to, if the tenant named one: its jobs stay on one replica
/// while that replica meets their objective.</param>
/// <param name="Preemptions">How many times the job was stopped on a replica to make room for another and queued again
/// (<see cref="Dispatch.Preemption"/>): past a bound it is not stopped again.</param>
/// <param name="Form">The forms its prompt comes in (a chat job's turns and their rendering as text, say): only a replica
/// that takes one of them is a candidate (<see cref="Placement.ReplicaView.AcceptedForms"/>).</param>
public sealed record JobDemand(
    string JobId,
    string TenantId,
    int PromptTokens,
    int MaxTokens,
    JobPriority Priority,
    double TtftObjectiveMs,
    DateTimeOffset EnqueuedAt,
    DateTimeOffset? Deadline = null,
    PromptBlocks? Blocks = null,
    string? SessionId = null,
    int Preemptions = 0,
    PromptForms Form = PromptForms.Text)
{
    /// <summary>KV-cache tokens the job holds at its longest: the prompt plus every output token.</summary>
    public long KvTokens => (long)PromptTokens + MaxTokens;

    /// <summary>Service the job represents for fair queuing: input tokens weigh 1, output tokens 2 (VTC).</summary>
    public double ServiceUnits => PromptTokens + (2.0 * MaxTokens);
}
