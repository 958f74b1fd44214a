using Scheduler.Protos.V1;

namespace Scheduler.Client;

/// <summary>What a streamed job produced, assembled from its events.</summary>
/// <param name="JobId">The job's id.</param>
/// <param name="Status">
/// <see cref="JobStatus.Completed"/>, <see cref="JobStatus.Failed"/>, <see cref="JobStatus.Cancelled"/> or
/// <see cref="JobStatus.Expired"/> (it could not make its deadline and never ran);
/// <see cref="JobStatus.Queued"/> or <see cref="JobStatus.Running"/> when the stream ended before the job did.
/// </param>
/// <param name="Text">The generated text: token chunks in order of their first token index, each token once.</param>
/// <param name="TokenCount">The number of generated tokens in <paramref name="Text"/>.</param>
/// <param name="Usage">Token counts, cost and timings, set when the job completed.</param>
/// <param name="FinishReason">"length", "stop" or "cancelled"; empty while the job has not finished.</param>
/// <param name="Placement">Where the job was admitted last (a re-dispatched job is admitted again), if it was.</param>
/// <param name="Error">The failure reported by the scheduler, when <paramref name="Status"/> is failed or expired
/// (then it starts with "DEADLINE_EXCEEDED").</param>
/// <param name="Events">Every event received, in arrival order.</param>
public sealed record JobResult(
    string JobId,
    JobStatus Status,
    string Text,
    int TokenCount,
    Usage? Usage,
    string FinishReason,
    Placement? Placement,
    string? Error,
    IReadOnlyList<JobEvent> Events)
{
    /// <summary>Token chunks received again and dropped (a resumed stream repeating what arrived before).</summary>
    public int RepeatedTokensDropped { get; init; }

    /// <summary>How many times <see cref="FailoverJobRunner"/> had to reconnect to another silo.</summary>
    public int Reconnects { get; init; }

    /// <summary>True when the job ran to completion (its finish reason is "length" or "stop").</summary>
    public bool Succeeded => Status == JobStatus.Completed;
}
