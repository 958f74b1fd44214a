using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using Scheduler.Protos.V1;
using static Scheduler.Client.SchedulerConnection;

namespace Scheduler.Client;

/// <summary>
/// Typed client of the scheduler's <c>AdminService</c>, for operators and SREs: tenants, models, accelerators,
/// replicas, the cluster summary, job listings and explanations. Every call carries <c>authorization: Bearer &lt;admin key&gt;</c>. gRPC errors
/// surface as <see cref="RpcException"/>; every method takes an optional deadline (UTC) and a cancellation token.
/// </summary>
public sealed class SchedulerAdminClient : IDisposable
{
    private readonly SchedulerConnection _connection;
    private readonly AdminService.AdminServiceClient _admin;

    /// <summary>Opens a channel to the scheduler; the client owns it and closes it on <see cref="Dispose"/>.</summary>
    /// <param name="address">The scheduler's address, e.g. "http://127.0.0.1:5000" (cleartext HTTP/2) or an https:// URL.</param>
    /// <param name="trustedCaPath">PEM file of the CA that signed an https scheduler's certificate; null trusts the system's CAs.
    /// Read again at each new connection's handshake (parsed only when it changed), so a long-lived client follows a CA
    /// rotation without being made again; a file that no longer parses keeps the CAs read last.</param>
    /// <param name="adminKey">The admin credential.</param>
    /// <param name="logger">Told when the CA file changed, and warned when it no longer parses; null logs nothing.</param>
    public SchedulerAdminClient(string address, string adminKey, string? trustedCaPath = null, ILogger? logger = null)
        : this(SchedulerConnection.ForAddress(address, adminKey, trustedCaPath, logger))
    {
    }

    /// <summary>Calls through an existing channel, which stays owned by the caller.</summary>
    /// <param name="channel">A channel to the scheduler, e.g. a <see cref="GrpcChannel"/>.</param>
    /// <param name="adminKey">The admin credential.</param>
    public SchedulerAdminClient(ChannelBase channel, string adminKey)
        : this(SchedulerConnection.ForChannel(channel, adminKey))
    {
    }

    /// <summary>Calls through an existing invoker, which stays owned by the caller.</summary>
    /// <param name="callInvoker">An invoker reaching the scheduler.</param>
    /// <param name="adminKey">The admin credential.</param>
    public SchedulerAdminClient(CallInvoker callInvoker, string adminKey)
        : this(SchedulerConnection.ForInvoker(callInvoker, adminKey))
    {
    }

    private SchedulerAdminClient(SchedulerConnection connection)
    {
        _connection = connection;
        _admin = new AdminService.AdminServiceClient(connection.Invoker);
    }

    /// <summary>Lists all tenants with their weights, quotas, queues and usage, by id, following every page.</summary>
    /// <param name="deadline">When to give up on the calls (UTC); null for none.</param>
    /// <param name="cancellationToken">Cancels the calls.</param>
    public Task<IReadOnlyList<Tenant>> ListTenantsAsync(
        DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        ListAllTenantsAsync(new ListTenantsRequest(), deadline, cancellationToken);

    /// <summary>Lists the tenants from <paramref name="first"/>'s page on, following every page after it.</summary>
    /// <param name="first">The first page to ask for: its page size is used for every page, its token (empty: the
    /// first tenant) is where the listing starts.</param>
    /// <param name="deadline">When to give up on the calls (UTC); null for none.</param>
    /// <param name="cancellationToken">Cancels the calls.</param>
    public async Task<IReadOnlyList<Tenant>> ListAllTenantsAsync(
        ListTenantsRequest first, DateTime? deadline = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(first);
        var tenants = new List<Tenant>();
        var request = first.Clone();
        while (true)
        {
            var page = await ListTenantsAsync(request, deadline, cancellationToken);
            tenants.AddRange(page.Tenants);
            if (page.NextPageToken.Length == 0)
            {
                return tenants;
            }

            request.PageToken = page.NextPageToken;
        }
    }

    /// <summary>Returns one page of tenants, by id: pass its <c>NextPageToken</c> as the next request's
    /// <c>PageToken</c> while it is not empty.</summary>
    /// <param name="request">The page size and token.</param>
    /// <param name="deadline">When to give up on the call (UTC); null for none.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<ListTenantsResponse> ListTenantsAsync(
        ListTenantsRequest request, DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        _admin.ListTenantsAsync(request, Options(deadline, cancellationToken)).ResponseAsync;

    /// <summary>Returns one tenant.</summary>
    /// <param name="tenantId">The tenant's id.</param>
    /// <param name="deadline">When to give up on the call (UTC); null for none.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<Tenant> GetTenantAsync(
        string tenantId, DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        _admin.GetTenantAsync(
            new GetTenantRequest { TenantId = tenantId }, Options(deadline, cancellationToken)).ResponseAsync;

    /// <summary>Creates or updates a tenant; a non-empty API key replaces the tenant's key.</summary>
    /// <param name="request">The tenant's id, weight, quotas and optional new key.</param>
    /// <param name="deadline">When to give up on the call (UTC); null for none.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<Tenant> PutTenantAsync(
        PutTenantRequest request, DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        _admin.PutTenantAsync(request, Options(deadline, cancellationToken)).ResponseAsync;

    /// <summary>Lists the models the scheduler serves.</summary>
    /// <param name="deadline">When to give up on the call (UTC); null for none.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<IReadOnlyList<Model>> ListModelsAsync(
        DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        (await _admin.ListModelsAsync(new ListModelsRequest(), Options(deadline, cancellationToken))).Models;

    /// <summary>Lists all accelerators with their state, price and utilisation.</summary>
    /// <param name="deadline">When to give up on the call (UTC); null for none.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<IReadOnlyList<Accelerator>> ListAcceleratorsAsync(
        DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        (await _admin.ListAcceleratorsAsync(new ListAcceleratorsRequest(), Options(deadline, cancellationToken)))
        .Accelerators;

    /// <summary>Returns one accelerator.</summary>
    /// <param name="acceleratorId">The accelerator's id.</param>
    /// <param name="deadline">When to give up on the call (UTC); null for none.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<Accelerator> GetAcceleratorAsync(
        string acceleratorId, DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        _admin.GetAcceleratorAsync(
            new GetAcceleratorRequest { AcceleratorId = acceleratorId },
            Options(deadline, cancellationToken)).ResponseAsync;

    /// <summary>Lists model replicas with their running batches.</summary>
    /// <param name="model">Only this model's replicas; null or empty for all.</param>
    /// <param name="deadline">When to give up on the call (UTC); null for none.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<IReadOnlyList<Replica>> ListReplicasAsync(
        string? model = null, DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        (await _admin.ListReplicasAsync(
            new ListReplicasRequest { Model = model ?? "" }, Options(deadline, cancellationToken))).Replicas;

    /// <summary>Returns one replica.</summary>
    /// <param name="replicaId">The replica's id.</param>
    /// <param name="deadline">When to give up on the call (UTC); null for none.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<Replica> GetReplicaAsync(
        string replicaId, DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        _admin.GetReplicaAsync(
            new GetReplicaRequest { ReplicaId = replicaId }, Options(deadline, cancellationToken)).ResponseAsync;

    /// <summary>Returns the cluster's totals and its configured policies.</summary>
    /// <param name="deadline">When to give up on the call (UTC); null for none.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<ClusterSummary> GetClusterSummaryAsync(
        DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        _admin.GetClusterSummaryAsync(new GetClusterSummaryRequest(), Options(deadline, cancellationToken))
            .ResponseAsync;

    /// <summary>Returns the capacity signal: per model and accelerator pool, the replicas the scheduler wants and why.</summary>
    /// <param name="model">Only this model; null or empty for all.</param>
    /// <param name="deadline">When to give up on the call (UTC); null for none.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<IReadOnlyList<ModelCapacitySignal>> GetCapacityAsync(
        string? model = null, DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        (await _admin.GetCapacityAsync(
            new GetCapacityRequest { Model = model ?? "" }, Options(deadline, cancellationToken))).Models;

    /// <summary>Cordons an accelerator: it takes no new sequences, those running finish.</summary>
    /// <param name="acceleratorId">The accelerator's id.</param>
    /// <param name="deadline">When to give up on the call (UTC); null for none.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<Accelerator> CordonAcceleratorAsync(
        string acceleratorId, DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        _admin.CordonAcceleratorAsync(
            new CordonAcceleratorRequest { AcceleratorId = acceleratorId },
            Options(deadline, cancellationToken)).ResponseAsync;

    /// <summary>Uncordons an accelerator: it takes new sequences again.</summary>
    /// <param name="acceleratorId">The accelerator's id.</param>
    /// <param name="deadline">When to give up on the call (UTC); null for none.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<Accelerator> UncordonAcceleratorAsync(
        string acceleratorId, DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        _admin.UncordonAcceleratorAsync(
            new CordonAcceleratorRequest { AcceleratorId = acceleratorId },
            Options(deadline, cancellationToken)).ResponseAsync;

    /// <summary>Forgets a worker node that is gone (its accelerators read lost): its accelerators and replicas are no
    /// longer listed, scheduled or counted lost. FAILED_PRECONDITION while the node is connected; NOT_FOUND for a node
    /// the scheduler does not know.</summary>
    /// <param name="nodeId">The node's id.</param>
    /// <param name="deadline">When to give up on the call (UTC); null for none.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<ForgetNodeResponse> ForgetNodeAsync(
        string nodeId, DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        _admin.ForgetNodeAsync(new ForgetNodeRequest { NodeId = nodeId }, Options(deadline, cancellationToken)).ResponseAsync;

    /// <summary>Adds an API key to a tenant; its other keys keep working. The response holds the key's secret, which
    /// is never shown again.</summary>
    /// <param name="tenantId">The tenant's id.</param>
    /// <param name="deadline">When to give up on the call (UTC); null for none.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<CreateApiKeyResponse> CreateApiKeyAsync(
        string tenantId, DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        _admin.CreateApiKeyAsync(
            new CreateApiKeyRequest { TenantId = tenantId }, Options(deadline, cancellationToken)).ResponseAsync;

    /// <summary>Lists a tenant's API keys (never their secrets), oldest first.</summary>
    /// <param name="tenantId">The tenant's id.</param>
    /// <param name="prefix">Only keys whose prefix starts with this; null or empty for all.</param>
    /// <param name="deadline">When to give up on the call (UTC); null for none.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<IReadOnlyList<ApiKey>> ListApiKeysAsync(
        string tenantId, string? prefix = null, DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        (await _admin.ListApiKeysAsync(
            new ListApiKeysRequest { TenantId = tenantId, Prefix = prefix ?? "" }, Options(deadline, cancellationToken))).Keys;

    /// <summary>Revokes one of a tenant's API keys.</summary>
    /// <param name="tenantId">The tenant's id.</param>
    /// <param name="keyId">The key's id, as listed.</param>
    /// <param name="deadline">When to give up on the call (UTC); null for none.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<ApiKey> RevokeApiKeyAsync(
        string tenantId, string keyId, DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        _admin.RevokeApiKeyAsync(
            new RevokeApiKeyRequest { TenantId = tenantId, KeyId = keyId }, Options(deadline, cancellationToken)).ResponseAsync;

    /// <summary>Lists audit events of admin actions, newest first.</summary>
    /// <param name="request">Filters: since, action (or a prefix ending in "."), limit.</param>
    /// <param name="deadline">When to give up on the call (UTC); null for none.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<IReadOnlyList<AuditEvent>> ListAuditEventsAsync(
        ListAuditEventsRequest request, DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        (await _admin.ListAuditEventsAsync(request, Options(deadline, cancellationToken))).Events;
    /// <summary>Lists any tenant's jobs, newest first: one page of them (filters and paging in <paramref name="request"/>;
    /// pass the response's next page token to go on).</summary>
    /// <param name="request">Filters, page size and page token.</param>
    /// <param name="deadline">When to give up on the call (UTC); null for none.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<ListJobsResponse> ListJobsAsync(
        ListJobsRequest request, DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        _admin.ListJobsAsync(request, Options(deadline, cancellationToken)).ResponseAsync;

    /// <summary>Why a job waited and where it went: its record and its placement's events.</summary>
    /// <param name="jobId">The job's id.</param>
    /// <param name="deadline">When to give up on the call (UTC); null for none.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<JobExplanation> ExplainJobAsync(
        string jobId, DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        _admin.ExplainJobAsync(new ExplainJobRequest { JobId = jobId }, Options(deadline, cancellationToken)).ResponseAsync;

    /// <summary>Closes the channel if this client opened it.</summary>
    public void Dispose() => _connection.Dispose();
}
