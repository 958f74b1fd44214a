using Google.Protobuf.WellKnownTypes;
using Scheduler.Abstractions.Jobs;
using Scheduler.Policies;
using Proto = Scheduler.Protos.V1;

namespace Scheduler.Silo.Api;

/// <summary>Domain records to wire messages.</summary>
internal static class ProtoMapping
{
    public static Proto.Job ToProto(this JobSnapshot job)
    {
        var proto = new Proto.Job
        {
            JobId = job.JobId,
            TenantId = job.TenantId,
            Model = job.Model,
            Status = job.Status switch
            {
                JobStatus.Queued or JobStatus.Running when job.CancelRequested => Proto.JobStatus.Cancelling,
                JobStatus.Queued => Proto.JobStatus.Queued,
                JobStatus.Running => Proto.JobStatus.Running,
                JobStatus.Completed => Proto.JobStatus.Completed,
                JobStatus.Failed => Proto.JobStatus.Failed,
                JobStatus.Cancelled => Proto.JobStatus.Cancelled,
                JobStatus.Expired => Proto.JobStatus.Expired,
                _ => Proto.JobStatus.Unspecified,
            },
            PromptTokens = job.PromptTokens,
            MaxTokens = job.MaxTokens,
            Priority = job.Priority.ToProto(),
            SubmittedAt = Timestamp.FromDateTimeOffset(job.SubmittedAt),
            Output = job.Output ?? "",
            Error = job.Error ?? "",
            FinishReason = job.FinishReason ?? "",
            HandBacks = job.HandBacks,
            LastHandBackError = job.LastHandBackError ?? "",
            PromptTokensSource = job.PromptTokensSource.ToProto(),
            Requeues = job.Requeues,
            LastRequeue = job.LastRequeue ?? "",
        };
        if (job.Placement is { } p)
        {
            proto.Placement = p.ToProto();
        }

        if (job.Usage is { } u)
        {
            proto.Usage = u.ToProto();
            if (job.IsTerminal && u.NeverRan)
            {
                // The record's usage is what metering counts, nothing for a job that never ran; the client is told
                // what inference.proto's Usage promises: the scheduler's count of the prompt, and the time from
                // submission to the end, which was all wait.
                proto.Usage.PromptTokens = job.PromptTokens;
                proto.Usage.PromptTokensSource = job.PromptTokensSource.ToProto();
                proto.Usage.TotalMs = u.QueueMs;
            }
        }

        if (job.Deadline is { } deadline)
        {
            proto.Deadline = Timestamp.FromDateTimeOffset(deadline);
        }

        return proto;
    }

    public static Proto.JobEvent ToProto(this JobEventRecord e)
    {
        var proto = new Proto.JobEvent { JobId = e.JobId, At = Timestamp.FromDateTimeOffset(e.At) };
        switch (e.Kind)
        {
            case JobEventKind.Queued:
                proto.Queued = new Proto.JobQueued { QueuePosition = e.QueuePosition };
                break;
            case JobEventKind.Admitted:
                proto.Admitted = new Proto.JobAdmitted { Placement = e.Placement?.ToProto() };
                break;
            case JobEventKind.Tokens:
                proto.Tokens = new Proto.TokenChunk { FirstTokenIndex = e.FirstTokenIndex, Text = e.Text ?? "", TokenCount = e.TokenCount };
                break;
            case JobEventKind.Completed:
                proto.Completed = new Proto.JobCompleted { Usage = e.Usage?.ToProto(), FinishReason = e.FinishReason ?? "" };
                break;
            case JobEventKind.Cancelled:
                proto.Cancelled = new Proto.JobCancelled { CompletionTokens = e.Usage?.CompletionTokens ?? 0 };
                break;
            case JobEventKind.Expired:
                proto.Expired = new Proto.JobExpired { Error = e.Error ?? "DEADLINE_EXCEEDED" };
                break;
            default:
                proto.Failed = new Proto.JobFailed { Error = e.Error ?? "failed" };
                break;
        }

        return proto;
    }

    public static Proto.Placement ToProto(this JobPlacement p) => new()
    {
        ReplicaId = p.ReplicaId,
        AcceleratorId = p.AcceleratorId,
        AcceleratorProduct = p.Product,
        NodeId = p.NodeId,
        RunningSequencesAtAdmission = p.RunningSequencesAtAdmission,
    };

    public static Proto.Usage ToProto(this JobUsage u) => new()
    {
        PromptTokens = u.PromptTokens,
        CompletionTokens = u.CompletionTokens,
        CostUsd = u.CostUsd,
        QueueMs = u.QueueMs,
        TtftMs = u.TtftMs,
        TotalMs = u.TotalMs,
        CachedPromptTokens = u.CachedPromptTokens,
        PromptTokensSource = u.PromptTokensSource.ToProto(),
    };

    public static Proto.PromptTokensSource ToProto(this PromptTokenSource s) => s switch
    {
        PromptTokenSource.SchedulerEstimate => Proto.PromptTokensSource.SchedulerEstimate,
        PromptTokenSource.TokenIds => Proto.PromptTokensSource.TokenIds,
        PromptTokenSource.Engine => Proto.PromptTokensSource.Engine,
        _ => Proto.PromptTokensSource.Unspecified,
    };

    /// <summary>A priority from the wire; null for <see cref="Proto.Priority.Unspecified"/>. An unknown value is refused, naming <paramref name="field"/>.</summary>
    public static JobPriority? FromProto(Proto.Priority p, string field) => p switch
    {
        Proto.Priority.Unspecified => null,
        Proto.Priority.Standard => JobPriority.Standard,
        Proto.Priority.Critical => JobPriority.Critical,
        Proto.Priority.Sheddable => JobPriority.Sheddable,
        _ => throw SchedulerErrors.InvalidArgument(field, $"unknown value {(int)p}"),
    };

    public static Proto.JobExplanation ToProto(this JobExplanation e)
    {
        var job = e.Job.ToProto();
        job.Output = "";
        var proto = new Proto.JobExplanation { Job = job };
        if (e.QueuePosition is { } position)
        {
            proto.QueuePosition = position;
        }

        proto.Events.AddRange(e.Events.Select(ToProto));
        return proto;
    }

    public static Proto.JobTraceEvent ToProto(this JobTraceEvent e)
    {
        var proto = new Proto.JobTraceEvent
        {
            Kind = Snake(e.Kind.ToString()),
            At = Timestamp.FromDateTimeOffset(e.At),
            Count = e.Count,
            Reason = e.Reason == WaitReason.None ? "" : Snake(e.Reason.ToString()),
            Detail = e.Detail,
            QueuePosition = e.QueuePosition,
        };
        if (e.LastAt is { } last)
        {
            proto.LastAt = Timestamp.FromDateTimeOffset(last);
        }

        if (e.Placement is { } p)
        {
            proto.Placement = p.ToProto();
        }

        proto.Candidates.AddRange((e.Candidates ?? []).Select(c => new Proto.WeighedReplicaClass
        {
            Product = c.Product,
            MaxSequences = c.MaxSequences,
            RunningSequences = c.RunningSequences,
            PredictedTtftMs = c.PredictedTtftMs,
            PredictedCostUsd = c.PredictedCostUsd,
            MeetsObjective = c.MeetsObjective,
            Chosen = c.Chosen,
            ReplicasWeighed = c.ReplicasWeighed,
        }));
        return proto;
    }

    // HandedBack → handed_back: the wire's names are stable strings, not the enum's.
    private static string Snake(string name) =>
        string.Concat(name.Select((c, i) => char.IsUpper(c) ? (i > 0 ? "_" : "") + char.ToLowerInvariant(c) : c.ToString()));

    public static Proto.Priority ToProto(this JobPriority p) => p switch
    {
        JobPriority.Critical => Proto.Priority.Critical,
        JobPriority.Sheddable => Proto.Priority.Sheddable,
        _ => Proto.Priority.Standard,
    };
}
