using Scheduler.Protos.V1;

namespace Scheduler.Client;

/// <summary>Folds a job's events, as they arrive, into a <see cref="JobResult"/>.</summary>
internal sealed class JobResultBuilder
{
    private readonly List<JobEvent> _events = [];
    private readonly TokenAssembler _tokens = new();
    private string _jobId = "";
    private JobStatus _status = JobStatus.Queued;
    private Usage? _usage;
    private string _finishReason = "";
    private Placement? _placement;
    private string? _error;
    private int _repeated;

    /// <summary>The job's id, once an event named it.</summary>
    public string JobId => _jobId;

    /// <summary>Tokens kept so far: with no gaps, the index of the next token to ask for.</summary>
    public int TokenCount => _tokens.TokenCount;

    /// <summary>Whether the job's final event arrived (nothing follows it on a stream).</summary>
    public bool IsTerminal => _events.Count > 0 && Ends(_events[^1]);

    /// <summary>Whether <paramref name="jobEvent"/> is a job's last: completed, failed, cancelled or expired. The one
    /// list of them in this client (a second one, of statuses, left out <c>Expired</c> once).</summary>
    public static bool Ends(JobEvent jobEvent) => jobEvent.EventCase is JobEvent.EventOneofCase.Completed or JobEvent.EventOneofCase.Failed
        or JobEvent.EventOneofCase.Cancelled or JobEvent.EventOneofCase.Expired;

    /// <summary>Records <paramref name="jobEvent"/>.</summary>
    /// <returns>The event's token chunk when it carries tokens not received before; otherwise null.</returns>
    public TokenChunk? Add(JobEvent jobEvent)
    {
        _events.Add(jobEvent);
        if (_jobId.Length == 0)
        {
            _jobId = jobEvent.JobId;
        }

        switch (jobEvent.EventCase)
        {
            case JobEvent.EventOneofCase.Queued:
                _status = JobStatus.Queued;
                break;
            case JobEvent.EventOneofCase.Admitted:
                _status = JobStatus.Running;
                _placement = jobEvent.Admitted.Placement;
                break;
            case JobEvent.EventOneofCase.Tokens:
                _status = JobStatus.Running;
                if (_tokens.TryAdd(jobEvent.Tokens))
                {
                    return jobEvent.Tokens;
                }

                _repeated += jobEvent.Tokens.TokenCount;
                return null;
            case JobEvent.EventOneofCase.Completed:
                _status = JobStatus.Completed;
                _usage = jobEvent.Completed.Usage;
                _finishReason = jobEvent.Completed.FinishReason;
                break;
            case JobEvent.EventOneofCase.Failed:
                _status = JobStatus.Failed;
                _error = jobEvent.Failed.Error;
                break;
            case JobEvent.EventOneofCase.Cancelled:
                _status = JobStatus.Cancelled;
                _finishReason = "cancelled";
                break;
            case JobEvent.EventOneofCase.Expired:
                _status = JobStatus.Expired;
                _error = jobEvent.Expired.Error;
                break;
            default:
                break;
        }

        return null;
    }

    /// <summary>Events recorded so far.</summary>
    public int EventCount => _events.Count;

    /// <summary>Records every event of <paramref name="events"/>, handing each token chunk not received before to
    /// <paramref name="onTokens"/> as it arrives.</summary>
    public async Task ReadAsync(IAsyncEnumerable<JobEvent> events, Action<TokenChunk>? onTokens)
    {
        await foreach (var jobEvent in events)
        {
            if (Add(jobEvent) is { } fresh)
            {
                onTokens?.Invoke(fresh);
            }
        }
    }

    /// <summary>The result of the events recorded so far.</summary>
    public JobResult Build() => new(
        _jobId, _status, _tokens.Text, _tokens.TokenCount, _usage, _finishReason, _placement, _error, _events)
    {
        RepeatedTokensDropped = _repeated,
    };
}
