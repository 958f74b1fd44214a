using Grpc.Core;
using Microsoft.Extensions.Options;
using Scheduler.Abstractions.Catalog;
using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Jobs;
using Scheduler.Abstractions.Placement;
using Scheduler.Abstractions.Tenants;
using Scheduler.Protos.V1;
using TenantQuotas = Scheduler.Abstractions.Tenants.TenantQuotas;
using JobExplanation = Scheduler.Protos.V1.JobExplanation;
using Scheduler.Silo.Models;
using Scheduler.Silo.Nodes;

namespace Scheduler.Silo.Api;

/// <summary>Operators' and SREs' view and levers. The admin key was checked by <see cref="AuthInterceptor"/>. A listing
/// asks its grains in parallel, at most <see cref="MaxConcurrentCalls"/> at a time, and answers in catalog order. Every
/// call that changes something is recorded in the audit log (<see cref="AdminAudit"/>).</summary>
internal sealed class AdminGrpcService(
    IGrainFactory grains, ModelCatalog models, AdminAudit audit, TenantKeys keys, JobListing listing, AdminKeys admins, IOptions<NodeOptions> nodes,
    MissingJobs missing, TimeProvider time)
    : AdminService.AdminServiceBase
{
    // Enough to hide the latency of one grain call behind the others; few enough that listing thousands of tenants
    // does not flood the silos with calls at once.
    private const int MaxConcurrentCalls = 32;

    private ICatalogGrain Catalog => grains.GetGrain<ICatalogGrain>(ICatalogGrain.Key);

    public override async Task<ListTenantsResponse> ListTenants(ListTenantsRequest request, ServerCallContext context)
    {
        var paging = TenantPaging.Parse(request);
        if (request.BusyOnly)
        {
            return await BusyTenants(paging, context);
        }

        // One id more than the page tells whether there is a next page without another call.
        var ids = await Catalog.ListTenants(paging.After, paging.PageSize + 1);
        var page = ids.Length > paging.PageSize ? ids[..paging.PageSize] : ids;
        var response = new ListTenantsResponse();
        response.Tenants.AddRange((await Tenants(page, context)).Select(t => t.ToProto()));
        if (page.Length < ids.Length)
        {
            response.NextPageToken = TenantPaging.Token(page[^1]);
        }

        return response;
    }

    /// <summary>The tenants the placements count jobs of, queued or running, busiest first: only their grains are asked,
    /// so polling it (<c>schedctl top</c>) keeps no idle tenant activated, as listing every tenant did.</summary>
    private async Task<ListTenantsResponse> BusyTenants(TenantPaging paging, ServerCallContext context)
    {
        if (paging.After.Length > 0)
        {
            throw SchedulerErrors.InvalidArgument("page_token", "must be empty with busy_only, which answers in one page");
        }

        var jobs = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (_, snapshot) in await Placements(models.All, context))
        {
            foreach (var (tenant, count) in snapshot.QueuedByTenant.Concat(snapshot.RunningByTenant ?? []))
            {
                jobs[tenant] = jobs.GetValueOrDefault(tenant) + count;
            }
        }

        string[] busiest = [.. jobs.OrderByDescending(t => t.Value).ThenBy(t => t.Key, StringComparer.Ordinal).Take(paging.PageSize).Select(t => t.Key)];
        var response = new ListTenantsResponse();
        response.Tenants.AddRange((await Tenants(busiest, context)).Select(t => t.ToProto()));
        return response;
    }

    public override async Task<Tenant> GetTenant(GetTenantRequest request, ServerCallContext context)
    {
        Identifiers.RequireReference(request.TenantId, "tenant_id");
        var tenant = await grains.GetGrain<ITenantGrain>(request.TenantId).Get() ?? throw SchedulerErrors.NotFound("tenant", request.TenantId);
        return tenant.ToProto();
    }

    public override Task<Tenant> PutTenant(PutTenantRequest request, ServerCallContext context) =>
        audit.Run(context, AuditActions.TenantPut, request.TenantId, PutDetail(request), () => PutTenant(request));

    // What the audit log says of a put: the settings it changes, and whether the key changed (never the key). A setting
    // the mask leaves alone is not listed: its value in the request (0 when not sent) is not what the tenant has.
    private static string PutDetail(PutTenantRequest r)
    {
        var changes = TenantUpdateMask.Changes(r);
        (TenantFields Field, string Text)[] settings =
        [
            (TenantFields.Weight, $"weight={r.Weight}"),
            (TenantFields.MaxQueuedJobs, $"max_queued_jobs={r.Quotas?.MaxQueuedJobs ?? 0}"),
            (TenantFields.RequestsPerMinute, $"requests_per_minute={r.Quotas?.RequestsPerMinute ?? 0}"),
            (TenantFields.TokensPerMinute, $"tokens_per_minute={r.Quotas?.TokensPerMinute ?? 0}"),
        ];
        var parts = settings.Where(s => changes.HasFlag(s.Field)).Select(s => s.Text).ToList();
        if (TenantUpdateMask.ReplacesKey(r))
        {
            parts.Add("api_key=replaced");
        }

        if (r.UpdateMask is { } mask)
        {
            parts.Add($"update_mask={string.Join(',', mask.Paths)}");
        }

        return string.Join(' ', parts);
    }

    private async Task<Tenant> PutTenant(PutTenantRequest request)
    {
        Identifiers.Require(request.TenantId, "tenant_id");

        // 0 is proto3's "not set": the default weight.
        if (request.Weight != 0 && !TenantSettings.IsValidWeight(request.Weight))
        {
            throw SchedulerErrors.InvalidArgument(
                "weight", $"must be a number from {TenantSettings.MinWeight} to {TenantSettings.MaxWeight} (or 0 for the default, 1)");
        }

        var q = request.Quotas;
        if (q is not null && (q.MaxQueuedJobs < 0 || q.RequestsPerMinute < 0 || q.TokensPerMinute < 0))
        {
            var field = q.MaxQueuedJobs < 0 ? "max_queued_jobs" : q.RequestsPerMinute < 0 ? "requests_per_minute" : "tokens_per_minute";
            throw SchedulerErrors.InvalidArgument("quotas." + field, "must not be negative");
        }

        if (q is not null && q.TokensPerMinute > int.MaxValue)
        {
            throw SchedulerErrors.InvalidArgument("quotas.tokens_per_minute", $"must be at most {int.MaxValue}");
        }

        if (request.ApiKey.Length is > 0 and < 8)
        {
            throw SchedulerErrors.InvalidArgument("api_key", "must be at least 8 characters");
        }

        if (!PresentableKeys.Allows(request.ApiKey))
        {
            throw SchedulerErrors.InvalidArgument("api_key", PresentableKeys.Rule);
        }

        // A tenant's key must name that tenant alone: an admin key or the node token would also open the admin API or
        // the node registry to whoever the tenant's key is given to.
        if (request.ApiKey.Length > 0 && (admins.Match(request.ApiKey) is not null || request.ApiKey == nodes.Value.NodeToken))
        {
            throw SchedulerErrors.InvalidArgument("api_key", "is an admin key or the node token; a tenant's key must be its own");
        }

        var (settings, fields) = TenantUpdateMask.Read(request);
        var result = await grains.GetGrain<ITenantGrain>(request.TenantId).Put(settings, fields);
        return result.Tenant?.ToProto()
            ?? throw SchedulerErrors.AlreadyExists(Protos.Errors.ErrorReasons.ApiKeyTaken, "api_key: is another tenant's key; each tenant needs a key of its own (nothing was changed)");
    }

    public override async Task<ListModelsResponse> ListModels(ListModelsRequest request, ServerCallContext context)
    {
        var response = new ListModelsResponse();
        var placements = await Placements(models.All, context);
        var attainments = await InParallel(placements, p => grains.GetGrain<ITtftWindowGrain>(p.Model.Name).Get(), context);
        foreach (var ((model, snapshot), attainment) in placements.Zip(attainments))
        {
            response.Models.Add(new Model
            {
                Name = model.Name,
                MaxContextTokens = model.Options.MaxContextTokens,
                MaxOutputTokens = model.Options.MaxOutputTokens,
                Tokenizer = model.Options.Tokenizer,
                DefaultTtftObjectiveMs = model.Options.DefaultTtftObjectiveMs,
                Replicas = snapshot.Replicas.Length,
                QueuedJobs = snapshot.QueuedJobs,
                ChatTemplate = model.ChatTemplate.Name,
                TtftJobsLastMinute = attainment.Jobs,
                TtftMetLastMinute = attainment.Met,
                QueuedByTenant = { snapshot.QueuedByTenant.Where(q => q.Value > 0).ToDictionary() },
            });
        }

        return response;
    }

    public override async Task<ListAcceleratorsResponse> ListAccelerators(ListAcceleratorsRequest request, ServerCallContext context)
    {
        var fleet = await Catalog.GetFleet();
        var response = new ListAcceleratorsResponse();
        response.Accelerators.AddRange((await Accelerators(fleet, context)).Select(a => a.ToProto()));
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
        var placements = await Placements(Filter(request.Model), context);
        var views = placements.SelectMany(p => p.Snapshot.Replicas.Select(view => (p.Model.Name, view))).ToArray();
        var response = new ListReplicasResponse();
        response.Replicas.AddRange(await InParallel(views, v => Replica(v.Name, v.view), context));
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

    /// <summary>Jobs queued and running are the placements' own counts — what is in the models' queues, and the sequences
    /// admitted into replicas' batches — not the tenants' sums: a tenant hears of a job's end only after its replica freed
    /// the slot (and may have admitted the next job), so its running count may lag behind. Usage is the cluster's sum of
    /// the tenants' usage (<see cref="IClusterUsageGrain"/>), one call however many tenants there are: asking every
    /// tenant kept every tenant ever created activated, one call each per summary.</summary>
    public override async Task<ClusterSummary> GetClusterSummary(GetClusterSummaryRequest request, ServerCallContext context)
    {
        var fleet = await Catalog.GetFleet();
        var summary = new ClusterSummary
        {
            Tenants = fleet.Tenants,
            Models = models.All.Count(),
            Nodes = fleet.Nodes,
            Accelerators = fleet.Accelerators.Length,
            Replicas = fleet.Replicas,
        };
        var accelerators = Accelerators(fleet, context);
        var usage = grains.GetGrain<IClusterUsageGrain>(IClusterUsageGrain.Key).Get();
        var placements = await Placements(models.All, context);
        foreach (var (_, snapshot) in placements)
        {
            summary.QueuedJobs += snapshot.QueuedJobs;
            summary.RunningJobs += snapshot.Replicas.Sum(r => r.RunningSequences);
        }

        if (placements.FirstOrDefault() is { Snapshot: { } first })
        {
            summary.PlacementPolicy = first.PlacementPolicy;
            summary.FairnessPolicy = first.FairnessPolicy;
            summary.BatchingPolicy = first.BatchingPolicy;
            summary.WaitCostUsdPerSecond = first.WaitCostUsdPerSecond;
        }

        summary.AcceleratorsReady = (await accelerators).Count(a => a.State == AcceleratorState.Ready);
        var total = await usage;
        summary.CompletedJobs = total.JobsCompleted;
        summary.PromptTokens = total.PromptTokens;
        summary.CompletionTokens = total.CompletionTokens;
        summary.CostUsd = total.CostUsd;

        return summary;
    }

    /// <summary>The models a listing's <c>model</c> filter names: every model when it is empty, else that one; NOT_FOUND for
    /// a model the catalog does not have (ListReplicas answered an empty list where GetCapacity answered NOT_FOUND).</summary>
    private IEnumerable<ModelEntry> Filter(string model) =>
        model.Length == 0 ? models.All
        : models.TryGet(model, out var entry) ? [entry]
        : throw SchedulerErrors.NotFound("model", model);

    /// <summary>Each placement's capacity signal, as its snapshot computed it: what the wanted-replicas gauge reports.</summary>
    public override async Task<GetCapacityResponse> GetCapacity(GetCapacityRequest request, ServerCallContext context)
    {
        var response = new GetCapacityResponse();
        foreach (var (model, snapshot) in await Placements(Filter(request.Model), context))
        {
            if (snapshot.Capacity is { } capacity)
            {
                response.Models.Add(capacity.ToProto(model.Name));
            }
        }

        return response;
    }

    public override Task<Accelerator> CordonAccelerator(CordonAcceleratorRequest request, ServerCallContext context) =>
        audit.Run(context, AuditActions.AcceleratorCordon, request.AcceleratorId, "", () => SetCordon(request, cordon: true));

    public override Task<Accelerator> UncordonAccelerator(CordonAcceleratorRequest request, ServerCallContext context) =>
        audit.Run(context, AuditActions.AcceleratorUncordon, request.AcceleratorId, "", () => SetCordon(request, cordon: false));

    public override Task<ForgetNodeResponse> ForgetNode(ForgetNodeRequest request, ServerCallContext context) =>
        audit.Run(context, AuditActions.NodeForget, request.NodeId, "", async () =>
        {
            Identifiers.RequireReference(request.NodeId, "node_id");
            var result = await grains.GetGrain<IWorkerNodeGrain>(request.NodeId).Forget();
            return result.Outcome switch
            {
                ForgetNodeOutcome.Connected => throw SchedulerErrors.FailedPrecondition("NODE_CONNECTED", $"node/{request.NodeId}",
                    $"node '{SchedulerErrors.Echo(request.NodeId)}' is connected (registered, its lease alive): stop it first — a node stopped with SIGTERM drains and forgets itself — or cordon-node it"),
                ForgetNodeOutcome.NotFound => throw SchedulerErrors.NotFound("node", request.NodeId),
                _ => new ForgetNodeResponse { NodeId = request.NodeId, AcceleratorIds = { result.AcceleratorIds }, ReplicaIds = { result.ReplicaIds } },
            };
        });

    public override Task<CreateApiKeyResponse> CreateApiKey(CreateApiKeyRequest request, ServerCallContext context) =>
        audit.Run(context, AuditActions.ApiKeyCreate, request.TenantId, "", () =>
        {
            Identifiers.RequireReference(request.TenantId, "tenant_id");
            return keys.Create(request.TenantId);
        });

    public override Task<ListApiKeysResponse> ListApiKeys(ListApiKeysRequest request, ServerCallContext context)
    {
        Identifiers.RequireReference(request.TenantId, "tenant_id");
        return keys.List(request.TenantId, request.Prefix);
    }

    public override Task<ApiKey> RevokeApiKey(RevokeApiKeyRequest request, ServerCallContext context) =>
        audit.Run(context, AuditActions.ApiKeyRevoke, $"{request.TenantId}/{request.KeyId}", "", () =>
        {
            Identifiers.RequireReference(request.TenantId, "tenant_id");
            Identifiers.RequireReference(request.KeyId, "key_id");
            return keys.Revoke(request.TenantId, request.KeyId);
        });

    public override Task<ListAuditEventsResponse> ListAuditEvents(ListAuditEventsRequest request, ServerCallContext context) =>
        audit.List(request);

    public override Task<ListJobsResponse> ListJobs(ListJobsRequest request, ServerCallContext context)
    {
        if (request.TenantId.Length > 0)
        {
            Identifiers.RequireReference(request.TenantId, "tenant_id");
        }

        return listing.List(request, request.TenantId.Length > 0 ? request.TenantId : null, context.CancellationToken);
    }

    /// <summary>The record's trace: while the job is queued or running, its placement's up to now (after a failover,
    /// from the placement's rebuild on); once it settled, as it was at its last admission or its end in the queue.</summary>
    public override async Task<JobExplanation> ExplainJob(ExplainJobRequest request, ServerCallContext context)
    {
        Identifiers.RequireReference(request.JobId, "job_id");
        var explanation = await grains.GetGrain<IJobGrain>(request.JobId).Explain() ?? throw missing.NotFound(request.JobId);
        return explanation.ToProto();
    }

    private async Task<Accelerator> SetCordon(CordonAcceleratorRequest request, bool cordon)
    {
        Identifiers.RequireReference(request.AcceleratorId, "accelerator_id");
        var grain = grains.GetGrain<IAcceleratorGrain>(request.AcceleratorId);
        var accelerator = await (cordon ? grain.Cordon() : grain.Uncordon()) ?? throw SchedulerErrors.NotFound("accelerator", request.AcceleratorId);
        return accelerator.ToProto();
    }

    private async Task<TenantInfo[]> Tenants(IReadOnlyList<string> ids, ServerCallContext context) =>
        [.. (await InParallel(ids, id => grains.GetGrain<ITenantGrain>(id).Get(), context)).OfType<TenantInfo>()];

    private async Task<AcceleratorInfo[]> Accelerators(CatalogFleet fleet, ServerCallContext context) =>
        [.. (await InParallel(fleet.Accelerators, id => grains.GetGrain<IAcceleratorGrain>(id).Get(), context)).OfType<AcceleratorInfo>()];

    private async Task<(ModelEntry Model, PlacementSnapshot Snapshot)[]> Placements(IEnumerable<ModelEntry> wanted, ServerCallContext context)
    {
        var list = wanted.ToArray();
        var snapshots = await InParallel(list, m => grains.GetGrain<IPlacementGrain>(m.Name).GetSnapshot(), context);
        return [.. list.Zip(snapshots)];
    }

    /// <summary>One call per item, at most <see cref="MaxConcurrentCalls"/> at a time; the results in the items' order.</summary>
    private static async Task<TResult[]> InParallel<TItem, TResult>(IReadOnlyList<TItem> items, Func<TItem, Task<TResult>> call, ServerCallContext context)
    {
        var results = new TResult[items.Count];
        var options = new ParallelOptions { MaxDegreeOfParallelism = MaxConcurrentCalls, CancellationToken = context.CancellationToken };
        await Parallel.ForEachAsync(Enumerable.Range(0, items.Count), options, async (i, _) => results[i] = await call(items[i]));
        return results;
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
            RequestsPerMinute = view.RequestsPerMinute,
            TokensPerMinute = view.TokensPerMinute,
            RequestsAvailable = view.RequestsAvailable,
            TokensAvailable = view.TokensAvailable,
            CachedPrefixBlocks = view.CachedPrefixBlocks,
            PrefixBlocksForgotten = view.PrefixBlocksForgotten,
        };
        replica.RunningJobIds.AddRange(view.RunningJobIds);
        // A lost node's replica has none (ReplicaGrain.NodeLost): its figures read 0, flagged as not live.
        if (info?.Engine is { } engine)
        {
            replica.EngineReporting = true;
            replica.EngineRunningSequences = engine.RunningSequences;
            replica.EngineKvTokensUsed = engine.KvTokensUsed;
            replica.EnginePeakSequences = engine.PeakSequences;
            replica.EnginePeakKvTokens = engine.PeakKvTokens;
            replica.EngineRejectedAdmissions = engine.RejectedAdmissions;
            replica.MeasuredOutputTokensPerSecond = EngineFigures.OutputTokensPerSecond(engine, time.GetUtcNow());
            if (engine.Decodes is { } decodes)
            {
                replica.EngineDecodeCalls = decodes.Calls;
                replica.EngineDecodeSequences = decodes.Sequences;
                replica.EnginePeakDecodeSequences = decodes.PeakSequences;
                replica.EngineDecodeTokens = decodes.Tokens;
                replica.EnginePeakDecodeTokens = decodes.PeakTokens;
                replica.EngineMeanSequencesPerDecode = decodes.MeanSequences;
            }
        }

        return replica;
    }
}
