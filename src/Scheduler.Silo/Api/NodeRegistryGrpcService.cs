using Grpc.Core;
using Scheduler.Abstractions.Fleet;
using Scheduler.Policies;
using Scheduler.Policies.Capacity;
using Scheduler.Policies.Profiles;
using Scheduler.Protos.V1;
using Scheduler.Silo.Models;
using Scheduler.Silo.Nodes;

namespace Scheduler.Silo.Api;

/// <summary>
/// Worker nodes register here and keep their lease alive. The node token was checked by <see cref="AuthInterceptor"/>.
/// A node's description is checked as strictly as a tenant's request: it becomes placement state and prices, and a
/// node must not take over another live node's accelerators or replicas by naming them.
/// </summary>
internal sealed class NodeRegistryGrpcService(IGrainFactory grains, ModelCatalog models, NodeLinkTrust trust) : NodeRegistryService.NodeRegistryServiceBase
{
    public override async Task<RegisterNodeResponse> RegisterNode(RegisterNodeRequest request, ServerCallContext context)
    {
        var registration = ToRegistration(request.Node ?? throw SchedulerErrors.InvalidArgument("node", "is required"));
        await RequireNotOwnedByAnotherNode(registration);
        var lease = await grains.GetGrain<IWorkerNodeGrain>(registration.NodeId).Register(registration);
        if (lease.HeldBy is { } heldBy)
        {
            throw SchedulerErrors.AlreadyExists(Protos.Errors.ErrorReasons.NodeIdTaken,
                $"node.node_id: '{registration.NodeId}' is held by another running worker at {heldBy}; two workers share one node id (give each its own Worker:NodeId). This one is registered once that one is gone");
        }

        return new RegisterNodeResponse
        {
            LeaseMs = (int)lease.Lease.TotalMilliseconds,
            HeartbeatIntervalMs = (int)lease.HeartbeatInterval.TotalMilliseconds,
        };
    }

    public override async Task<HeartbeatResponse> Heartbeat(HeartbeatRequest request, ServerCallContext context)
    {
        Identifiers.Require(request.NodeId, "node_id");
        var known = await grains.GetGrain<IWorkerNodeGrain>(request.NodeId).Heartbeat(request.Draining, request.InstanceId);
        return new HeartbeatResponse { Known = known };
    }

    public override async Task<DeregisterNodeResponse> DeregisterNode(DeregisterNodeRequest request, ServerCallContext context)
    {
        Identifiers.RequireReference(request.NodeId, "node_id");
        await grains.GetGrain<IWorkerNodeGrain>(request.NodeId).Deregister(request.InstanceId);
        return new DeregisterNodeResponse();
    }

    private NodeRegistration ToRegistration(NodeDescription node)
    {
        Identifiers.Require(node.NodeId, "node.node_id");
        if (!Uri.TryCreate(node.Address, UriKind.Absolute, out var address) || address.Scheme is not ("http" or "https"))
        {
            throw SchedulerErrors.InvalidArgument("node.address", $"must be an http(s) URL, got '{SchedulerErrors.Echo(node.Address)}'");
        }

        if (trust.TrustedCa is not null && address.Scheme != "https")
        {
            // The operator asked for TLS node links: a cleartext node would carry prompts and tokens in the clear.
            throw SchedulerErrors.InvalidArgument(
                "node.address", $"must be an https:// URL: this scheduler links to nodes over TLS only ({NodeLinkTrust.TrustedCaSetting} is set), got '{SchedulerErrors.Echo(node.Address)}'");
        }

        var accelerators = new Dictionary<string, AcceleratorRegistration>(StringComparer.Ordinal);
        foreach (var a in node.Accelerators)
        {
            if (string.IsNullOrWhiteSpace(a.AcceleratorId) || a.Profile is null)
            {
                throw SchedulerErrors.InvalidArgument("node.accelerators", "each needs an accelerator_id and a profile");
            }

            Identifiers.Require(a.AcceleratorId, "node.accelerators.accelerator_id");
            if (a.Pool.Length > 0 && !PoolNames.IsValid(a.Pool))
            {
                throw SchedulerErrors.InvalidArgument("node.accelerators.pool", $"accelerator '{a.AcceleratorId}': '{SchedulerErrors.Echo(a.Pool)}' is no pool name ({PoolNames.Rule})");
            }

            if (!accelerators.TryAdd(a.AcceleratorId, new AcceleratorRegistration(a.AcceleratorId, node.NodeId, ToProfile(a.Profile), a.Pool.Length > 0 ? a.Pool : null)))
            {
                throw SchedulerErrors.InvalidArgument("node.accelerators", $"accelerator '{a.AcceleratorId}' is listed twice");
            }
        }

        var replicas = new Dictionary<string, ReplicaRegistration>(StringComparer.Ordinal);
        foreach (var r in node.Replicas)
        {
            if (string.IsNullOrWhiteSpace(r.ReplicaId))
            {
                throw SchedulerErrors.InvalidArgument("node.replicas", "each needs a replica_id");
            }

            Identifiers.Require(r.ReplicaId, "node.replicas.replica_id");
            if (!accelerators.TryGetValue(r.AcceleratorId, out var accelerator))
            {
                throw SchedulerErrors.InvalidArgument("node.replicas.accelerator_id", $"replica '{r.ReplicaId}' names unknown accelerator '{SchedulerErrors.Echo(r.AcceleratorId)}'");
            }

            if (!models.TryGet(r.Model, out _))
            {
                // The worker's operator reads this in the worker's log, far from the scheduler's settings: it names
                // where the models are configured and which ones are, so a misspelt name or a missing entry shows.
                throw SchedulerErrors.InvalidArgument("node.replicas.model",
                    $"replica '{r.ReplicaId}' serves model '{SchedulerErrors.Echo(r.Model)}', which is not in the scheduler's Scheduler:Models ({models.Names})");
            }

            if (r.MaxSequences <= 0 || r.KvCapacityTokens <= 0 || r.MaxContextTokens < 0)
            {
                throw SchedulerErrors.InvalidArgument("node.replicas", $"replica '{r.ReplicaId}' needs positive max_sequences and kv_capacity_tokens, and max_context_tokens not negative");
            }

            // More held than running would make the scheduler's count of a replica's work mostly jobs that wait.
            if (r.QueueAhead < 0 || r.QueueAhead > r.MaxSequences)
            {
                throw SchedulerErrors.InvalidArgument("node.replicas.queue_ahead", $"replica '{r.ReplicaId}' holds {r.QueueAhead} admissions ahead; it may hold 0 to max_sequences ({r.MaxSequences})");
            }

            if (r.RequestsPerMinute < 0 || r.TokensPerMinute < 0)
            {
                throw SchedulerErrors.InvalidArgument(r.RequestsPerMinute < 0 ? "node.replicas.requests_per_minute" : "node.replicas.tokens_per_minute",
                    $"replica '{r.ReplicaId}': a rate limit is a positive number per minute, or 0 for none");
            }

            if (!replicas.TryAdd(r.ReplicaId, new ReplicaRegistration(r.ReplicaId, r.Model, r.AcceleratorId, node.NodeId, accelerator.Profile, r.MaxSequences,
                r.KvCapacityTokens, r.MaxContextTokens, r.QueueAhead, r.RequestsPerMinute, r.TokensPerMinute, accelerator.Pool, PromptForms.All & ~FormsOf(r))))
            {
                throw SchedulerErrors.InvalidArgument("node.replicas", $"replica '{r.ReplicaId}' is listed twice");
            }
        }

        return new NodeRegistration(node.NodeId, node.Address, node.Engine, [.. accelerators.Values], [.. replicas.Values], node.InstanceId);
    }

    /// <summary>
    /// An accelerator or replica registered by another node stays that node's until it is lost: a second node naming
    /// it (a misconfiguration, or a copied config) would otherwise redirect its jobs.
    /// </summary>
    private async Task RequireNotOwnedByAnotherNode(NodeRegistration registration)
    {
        foreach (var accelerator in registration.Accelerators)
        {
            await RequireFree(accelerator.AcceleratorId, "accelerator", accelerator.AcceleratorId, registration.NodeId);
        }

        foreach (var replica in registration.Replicas)
        {
            if (await grains.GetGrain<IReplicaGrain>(replica.ReplicaId).Get() is { } existing && existing.Registration.NodeId != registration.NodeId)
            {
                await RequireFree(existing.Registration.AcceleratorId, "replica", replica.ReplicaId, registration.NodeId);
            }
        }
    }

    private async Task RequireFree(string acceleratorId, string what, string id, string nodeId)
    {
        if (await grains.GetGrain<IAcceleratorGrain>(acceleratorId).Get() is { } owned &&
            owned.Registration.NodeId != nodeId && owned.State != AcceleratorState.Lost)
        {
            throw SchedulerErrors.FailedPrecondition("OWNED_BY_LIVE_NODE", $"{what}/{id}", $"{what} '{id}' belongs to live node '{owned.Registration.NodeId}'");
        }
    }

    private static AcceleratorProfile ToProfile(AcceleratorProfileInfo p)
    {
        if (p.PrefillTokensPerSecond <= 0 || !double.IsFinite(p.PrefillTokensPerSecond))
        {
            throw SchedulerErrors.InvalidArgument("node.accelerators.profile.prefill_tokens_per_second", "must be positive");
        }

        // Step times and prices feed predictions and every job's cost: a NaN or negative one would poison both.
        double[] numbers = [p.DecodeStepBaseMs, p.DecodeStepPerSequenceMs, p.PricePerHourUsd, p.PricePerMillionInputTokensUsd, p.PricePerMillionOutputTokensUsd, p.PowerWatts];
        if (numbers.Any(n => !double.IsFinite(n) || n < 0) || p.MemoryBytes < 0 || p.MaxSequences < 0 || p.KvCapacityTokens < 0 || p.StepTokenBudget < 0)
        {
            throw SchedulerErrors.InvalidArgument("node.accelerators.profile", "step times, prices, power and capacities must be finite and not negative");
        }

        var kind = string.Equals(p.Kind, "lpu", StringComparison.OrdinalIgnoreCase) ? AcceleratorKind.Lpu : AcceleratorKind.Gpu;
        return new AcceleratorProfile(
            p.Product, kind, p.MemoryBytes, p.DecodeStepBaseMs, p.DecodeStepPerSequenceMs, p.PrefillTokensPerSecond,
            p.MaxSequences, p.KvCapacityTokens, p.StepTokenBudget, p.PricePerHourUsd, p.PricePerMillionInputTokensUsd,
            p.PricePerMillionOutputTokensUsd, p.PowerWatts);
    }

    // A node that names no forms (or one of an earlier version) takes every form; a form this silo does not know is
    // ignored rather than refused, so a newer node still registers.
    private static PromptForms FormsOf(ReplicaDescription r)
    {
        if (r.AcceptedPromptForms.Count == 0)
        {
            return PromptForms.All;
        }

        var forms = PromptForms.None;
        foreach (var form in r.AcceptedPromptForms)
        {
            forms |= form switch
            {
                PromptForm.Text => PromptForms.Text,
                PromptForm.Messages => PromptForms.Messages,
                PromptForm.TokenIds => PromptForms.TokenIds,
                PromptForm.Length => PromptForms.Length,
                _ => PromptForms.None,
            };
        }

        return forms == PromptForms.None ? PromptForms.All : forms;
    }
}
