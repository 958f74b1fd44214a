using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Tenants;
using Scheduler.Policies.Profiles;
using Proto = Scheduler.Protos.V1;

namespace Scheduler.Silo.Api;

/// <summary>Fleet and tenant records to wire messages.</summary>
internal static class AdminMapping
{
    public static Proto.Tenant ToProto(this TenantInfo t) => new()
    {
        TenantId = t.TenantId,
        Weight = t.Weight,
        // The bound in force, as the seeded tenants store it: a stored 0 read as "-" (no bound) in schedctl.
        Quotas = new Proto.TenantQuotas { MaxQueuedJobs = t.Quotas.QueueBound, RequestsPerMinute = t.Quotas.RequestsPerMinute, TokensPerMinute = t.Quotas.TokensPerMinute },
        QueuedJobs = t.QueuedJobs,
        RunningJobs = t.RunningJobs,
        Usage = new Proto.TenantUsage
        {
            PromptTokens = t.Usage.PromptTokens,
            CompletionTokens = t.Usage.CompletionTokens,
            CostUsd = t.Usage.CostUsd,
            JobsSubmitted = t.Usage.JobsSubmitted,
            JobsCompleted = t.Usage.JobsCompleted,
            JobsFailed = t.Usage.JobsFailed,
            JobsCancelled = t.Usage.JobsCancelled,
            JobsExpired = t.Usage.JobsExpired,
        },
    };

    public static Proto.Accelerator ToProto(this AcceleratorInfo a)
    {
        var p = a.Registration.Profile;
        var proto = new Proto.Accelerator
        {
            AcceleratorId = a.Registration.AcceleratorId,
            NodeId = a.Registration.NodeId,
            Kind = p.Kind == AcceleratorKind.Lpu ? "lpu" : "gpu",
            Product = p.Product,
            MemoryBytes = p.MemoryBytes,
            PricePerHourUsd = p.PricePerHourUsd,
            PricePerMillionInputTokensUsd = p.PricePerMillionInputTokensUsd,
            PricePerMillionOutputTokensUsd = p.PricePerMillionOutputTokensUsd,
            PowerWatts = p.PowerWatts,
            State = a.State.ToString().ToLowerInvariant(),
            Utilization = a.Utilization,
        };
        proto.ReplicaIds.AddRange(a.ReplicaIds);
        return proto;
    }
}
