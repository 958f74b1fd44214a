using Grpc.Core;
using Scheduler.Abstractions.Fleet;
using Scheduler.Policies.Profiles;
using Scheduler.Protos.V1;
using Scheduler.Silo.Models;

namespace Scheduler.Silo.Api;

/// <summary>Worker nodes register here and keep their lease alive. The node token was checked by <see cref="AuthInterceptor"/>.</summary>
internal sealed class NodeRegistryGrpcService(IGrainFactory grains, ModelCatalog models) : NodeRegistryService.NodeRegistryServiceBase
{
    public override async Task<RegisterNodeResponse> RegisterNode(RegisterNodeRequest request, ServerCallContext context)
    {
        var registration = ToRegistration(request.Node ?? throw SchedulerErrors.InvalidArgument("node", "is required"));
        var lease = await grains.GetGrain<IWorkerNodeGrain>(registration.NodeId).Register(registration);
        return new RegisterNodeResponse
        {
            LeaseMs = (int)lease.Lease.TotalMilliseconds,
            HeartbeatIntervalMs = (int)lease.HeartbeatInterval.TotalMilliseconds,
        };
    }

    public override async Task<HeartbeatResponse> Heartbeat(HeartbeatRequest request, ServerCallContext context)
    {
        if (string.IsNullOrEmpty(request.NodeId))
        {
            throw SchedulerErrors.InvalidArgument("node_id", "is required");
        }

        var known = await grains.GetGrain<IWorkerNodeGrain>(request.NodeId).Heartbeat();
        return new HeartbeatResponse { Known = known };
    }

    private NodeRegistration ToRegistration(NodeDescription node)
    {
        if (string.IsNullOrWhiteSpace(node.NodeId))
        {
            throw SchedulerErrors.InvalidArgument("node.node_id", "is required");
        }

        if (!Uri.TryCreate(node.Address, UriKind.Absolute, out var address) || address.Scheme is not ("http" or "https"))
        {
            throw SchedulerErrors.InvalidArgument("node.address", $"must be an http(s) URL, got '{node.Address}'");
        }

        var accelerators = new Dictionary<string, AcceleratorRegistration>(StringComparer.Ordinal);
        foreach (var a in node.Accelerators)
        {
            if (string.IsNullOrWhiteSpace(a.AcceleratorId) || a.Profile is null)
            {
                throw SchedulerErrors.InvalidArgument("node.accelerators", "each needs an accelerator_id and a profile");
            }

            accelerators[a.AcceleratorId] = new AcceleratorRegistration(a.AcceleratorId, node.NodeId, ToProfile(a.Profile));
        }

        var replicas = new List<ReplicaRegistration>();
        foreach (var r in node.Replicas)
        {
            if (!accelerators.TryGetValue(r.AcceleratorId, out var accelerator))
            {
                throw SchedulerErrors.InvalidArgument("node.replicas.accelerator_id", $"replica '{r.ReplicaId}' names unknown accelerator '{r.AcceleratorId}'");
            }

            if (!models.TryGet(r.Model, out _))
            {
                throw SchedulerErrors.InvalidArgument("node.replicas.model", $"model '{r.Model}' is not configured on the scheduler");
            }

            if (r.MaxSequences <= 0 || r.KvCapacityTokens <= 0)
            {
                throw SchedulerErrors.InvalidArgument("node.replicas", $"replica '{r.ReplicaId}' needs positive max_sequences and kv_capacity_tokens");
            }

            replicas.Add(new ReplicaRegistration(r.ReplicaId, r.Model, r.AcceleratorId, node.NodeId, accelerator.Profile, r.MaxSequences, r.KvCapacityTokens, r.MaxContextTokens));
        }

        return new NodeRegistration(node.NodeId, node.Address, node.Engine, [.. accelerators.Values], [.. replicas]);
    }

    private static AcceleratorProfile ToProfile(AcceleratorProfileInfo p)
    {
        if (p.PrefillTokensPerSecond <= 0)
        {
            throw SchedulerErrors.InvalidArgument("node.accelerators.profile.prefill_tokens_per_second", "must be positive");
        }

        var kind = string.Equals(p.Kind, "lpu", StringComparison.OrdinalIgnoreCase) ? AcceleratorKind.Lpu : AcceleratorKind.Gpu;
        return new AcceleratorProfile(
            p.Product, kind, p.MemoryBytes, p.DecodeStepBaseMs, p.DecodeStepPerSequenceMs, p.PrefillTokensPerSecond,
            p.MaxSequences, p.KvCapacityTokens, p.StepTokenBudget, p.PricePerHourUsd, p.PricePerMillionInputTokensUsd,
            p.PricePerMillionOutputTokensUsd, p.PowerWatts);
    }
}
