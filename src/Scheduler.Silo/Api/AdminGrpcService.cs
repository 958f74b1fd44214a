using Grpc.Core;
using Scheduler.Abstractions.Catalog;
using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Placement;
using Scheduler.Abstractions.Tenants;
using Scheduler.Protos.V1;
using TenantQuotas = Scheduler.Abstractions.Tenants.TenantQuotas;
using Scheduler.Silo.Models;

namespace Scheduler.Silo.Api;

/// <summary>Operators' and SREs' view and levers. The admin key was checked by <see cref="AuthInterceptor"/>.</summary>
internal sealed class AdminGrpcService(IGrainFactory grains, ModelCatalog models) : AdminService.AdminServiceBase
{
    private ICatalogGrain Catalog => grains.GetGrain<ICatalogGrain>(ICatalogGrain.Key);

    public override async Task<ListTenantsResponse> ListTenants(ListTenantsRequest request, ServerCallContext context)
    {
        var catalog = await Catalog.Get();
        var response = new ListTenantsResponse();
        foreach (var id in catalog.Tenants)
        {
            if (await grains.GetGrain<ITenantGrain>(id).Get() is { } tenant)
            {
                response.Tenants.Add(tenant.ToProto());
            }
        }

        return response;
    }

    public override async Task<Tenant> GetTenant(GetTenantRequest request, ServerCallContext context)
    {
        Identifiers.RequireReference(request.TenantId, "tenant_id");
        var tenant = await grains.GetGrain<ITenantGrain>(request.TenantId).Get() ?? throw SchedulerErrors.NotFound("tenant", request.TenantId);
        return tenant.ToProto();
    }

    public override async Task<Tenant> PutTenant(PutTenantRequest request, ServerCallContext context)
    {
        Identifiers.Require(request.TenantId, "tenant_id");

        if (request.Weight < 0 || double.IsNaN(request.Weight) || double.IsInfinity(request.Weight))
        {
            throw SchedulerErrors.InvalidArgument("weight", "must be a positive number");
        }

        var q = request.Quotas;
        if (q is not null && (q.MaxQueuedJobs < 0 || q.RequestsPerMinute < 0 || q.TokensPerMinute < 0))
        {
            throw SchedulerErrors.InvalidArgument("quotas", "must not be negative");
        }

        if (q is not null && q.TokensPerMinute > int.MaxValue)
        {
            throw SchedulerErrors.InvalidArgument("quotas.tokens_per_minute", $"must be at most {int.MaxValue}");
        }

        if (request.ApiKey.Length is > 0 and < 8)
        {
            throw SchedulerErrors.InvalidArgument("api_key", "must be at least 8 characters");
        }

        var quotas = q is null ? TenantQuotas.Default : new TenantQuotas(q.MaxQueuedJobs, q.RequestsPerMinute, q.TokensPerMinute);
        var settings = new TenantSettings(request.Weight > 0 ? request.Weight : 1, quotas, request.ApiKey.Length > 0 ? request.ApiKey : null);
        return (await grains.GetGrain<ITenantGrain>(request.TenantId).Put(settings)).ToProto();
    }

    public override async Task<ListModelsResponse> ListModels(ListModelsRequest request, ServerCallContext context)
    {
        var response = new ListModelsResponse();
        foreach (var model in models.All)
        {
            var snapshot = await grains.GetGrain<IPlacementGrain>(model.Name).GetSnapshot();
            response.Models.Add(new Model
            {
                Name = model.Name,
                MaxContextTokens = model.Options.MaxContextTokens,
                MaxOutputTokens = model.Options.MaxOutputTokens,
                Tokenizer = model.Options.Tokenizer,
                DefaultTtftObjectiveMs = model.Options.DefaultTtftObjectiveMs,
                Replicas = snapshot.Replicas.Length,
                QueuedJobs = snapshot.QueuedJobs,
            });
        }

        return response;
    }

    public override async Task<ListAcceleratorsResponse> ListAccelerators(ListAcceleratorsRequest request, ServerCallContext context)
    {
        var catalog = await Catalog.Get();
        var response = new ListAcceleratorsResponse();
        foreach (var id in catalog.Accelerators)
        {
            if (await grains.GetGrain<IAcceleratorGrain>(id).Get() is { } accelerator)
            {
                response.Accelerators.Add(accelerator.ToProto());
            }
        }

        return response;
    }

    public override async Task<Accelerator> GetAccelerator(GetAcceleratorRequest request, ServerCallContext context)
    {
        Identifiers.RequireReference(request.AcceleratorId, "accelerator_id");
        var accelerator = await grains.GetGrain<IAcceleratorGrain>(request.AcceleratorId).Get()
            ?? throw SchedulerErrors.NotFound("accelerator", request.AcceleratorId);
        return accelerator.ToProto();
    }

    public override async Task<ListReplicasResponse> ListReplicas(ListReplicasRequest request, ServerCallContext context)
    {
        var response = new ListReplicasResponse();
        foreach (var model in models.All.Where(m => request.Model.Length == 0 || m.Name == request.Model))
        {
            var snapshot = await grains.GetGrain<IPlacementGrain>(model.Name).GetSnapshot();
            foreach (var view in snapshot.Replicas)
            {
                response.Replicas.Add(await Replica(model.Name, view));
            }
        }

        return response;
    }

    public override async Task<Replica> GetReplica(GetReplicaRequest request, ServerCallContext context)
    {
        Identifiers.RequireReference(request.ReplicaId, "replica_id");
        var info = await grains.GetGrain<IReplicaGrain>(request.ReplicaId).Get() ?? throw SchedulerErrors.NotFound("replica", request.ReplicaId);
        var snapshot = await grains.GetGrain<IPlacementGrain>(info.Registration.Model).GetSnapshot();
        var view = snapshot.Replicas.FirstOrDefault(r => r.ReplicaId == request.ReplicaId) ?? throw SchedulerErrors.NotFound("replica", request.ReplicaId);
        return await Replica(info.Registration.Model, view);
    }

    public override async Task<ClusterSummary> GetClusterSummary(GetClusterSummaryRequest request, ServerCallContext context)
    {
        var catalog = await Catalog.Get();
        var summary = new ClusterSummary
        {
            Tenants = catalog.Tenants.Length,
            Models = models.All.Count(),
            Nodes = catalog.Nodes.Length,
            Accelerators = catalog.Accelerators.Length,
            Replicas = catalog.Replicas.Length,
        };
        foreach (var id in catalog.Accelerators)
        {
            if (await grains.GetGrain<IAcceleratorGrain>(id).Get() is { State: AcceleratorState.Ready })
            {
                summary.AcceleratorsReady++;
            }
        }

        foreach (var id in catalog.Tenants)
        {
            if (await grains.GetGrain<ITenantGrain>(id).Get() is { } tenant)
            {
                summary.QueuedJobs += tenant.QueuedJobs;
                summary.RunningJobs += tenant.RunningJobs;
                summary.CompletedJobs += tenant.Usage.JobsCompleted;
                summary.PromptTokens += tenant.Usage.PromptTokens;
                summary.CompletionTokens += tenant.Usage.CompletionTokens;
                summary.CostUsd += tenant.Usage.CostUsd;
            }
        }

        if (models.All.FirstOrDefault() is { } first)
        {
            var snapshot = await grains.GetGrain<IPlacementGrain>(first.Name).GetSnapshot();
            summary.PlacementPolicy = snapshot.PlacementPolicy;
            summary.FairnessPolicy = snapshot.FairnessPolicy;
            summary.BatchingPolicy = snapshot.BatchingPolicy;
        }

        return summary;
    }

    public override Task<Accelerator> CordonAccelerator(CordonAcceleratorRequest request, ServerCallContext context) =>
        SetCordon(request, cordon: true);

    public override Task<Accelerator> UncordonAccelerator(CordonAcceleratorRequest request, ServerCallContext context) =>
        SetCordon(request, cordon: false);

    private async Task<Accelerator> SetCordon(CordonAcceleratorRequest request, bool cordon)
    {
        Identifiers.RequireReference(request.AcceleratorId, "accelerator_id");
        var grain = grains.GetGrain<IAcceleratorGrain>(request.AcceleratorId);
        var accelerator = await (cordon ? grain.Cordon() : grain.Uncordon()) ?? throw SchedulerErrors.NotFound("accelerator", request.AcceleratorId);
        return accelerator.ToProto();
    }

    private async Task<Replica> Replica(string model, ReplicaSnapshot view)
    {
        var info = await grains.GetGrain<IReplicaGrain>(view.ReplicaId).Get();
        var replica = new Replica
        {
            ReplicaId = view.ReplicaId,
            Model = model,
            AcceleratorId = view.AcceleratorId,
            NodeId = view.NodeId,
            Product = view.Product,
            MaxSequences = view.MaxSequences,
            KvCapacityTokens = view.KvCapacityTokens,
            RunningSequences = view.RunningSequences,
            FreeSequenceSlots = view.MaxSequences - view.RunningSequences,
            FreeKvTokens = view.FreeKvTokens,
            Admissions = view.Admissions,
            AdmissionsIntoRunningBatch = view.AdmissionsIntoRunningBatch,
            State = view.Schedulable ? "ready" : "unschedulable",
        };
        replica.RunningJobIds.AddRange(view.RunningJobIds);
        if (info?.Engine is { } engine)
        {
            replica.EngineRunningSequences = engine.RunningSequences;
            replica.EngineKvTokensUsed = engine.KvTokensUsed;
            replica.EnginePeakSequences = engine.PeakSequences;
            replica.EnginePeakKvTokens = engine.PeakKvTokens;
            replica.EngineRejectedAdmissions = engine.RejectedAdmissions;
            replica.MeasuredOutputTokensPerSecond = engine.OutputTokensPerSecond;
        }

        return replica;
    }
}
