using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Options;
using Scheduler.Protos.V1;
using Scheduler.Silo.Nodes;

namespace Scheduler.Silo.Api;

/// <summary>
/// Authenticates every call before its handler runs: tenants by API key (looked up by its hash), admins and
/// worker nodes by their configured secrets (admin keys through <see cref="AdminKeys"/>, which may change while the
/// silo runs). The resolved tenant, or admin key's fingerprint, is left in <see cref="ServerCallContext.UserState"/>.
/// A peer that fails too often is refused before any lookup (<see cref="AuthFailureGuard"/>).
/// </summary>
internal sealed class AuthInterceptor(ApiKeyCache keys, AdminKeys admins, AuthFailureGuard guard, IOptions<NodeOptions> nodes) : Interceptor
{
    private const string TenantKey = "scheduler.tenant";
    private const string AdminKey = "scheduler.admin";
    private readonly byte[] _nodeTokenHash = Hash(nodes.Value.NodeToken);

    /// <summary>The tenant the current call authenticated as.</summary>
    public static string TenantOf(ServerCallContext context) => (string)context.UserState[TenantKey];

    /// <summary>The fingerprint of the admin key the current AdminService call authenticated with.</summary>
    public static string AdminOf(ServerCallContext context) => (string)context.UserState[AdminKey];

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        await Authenticate(context);
        return await continuation(request, context);
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        await Authenticate(context);
        await continuation(request, responseStream, context);
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        await Authenticate(context);
        await continuation(requestStream, responseStream, context);
    }

    private async Task Authenticate(ServerCallContext context)
    {
        var service = ServiceOf(context.Method);

        // Open to all: health for probes, which send no metadata; reflection tells only what the published protos do.
        if (service is "grpc.health.v1.Health" or "grpc.reflection.v1alpha.ServerReflection" or "grpc.reflection.v1.ServerReflection")
        {
            return;
        }

        var peer = AuthFailureGuard.PeerOf(context.GetHttpContext().Connection.RemoteIpAddress);
        guard.ThrowIfBlocked(peer, static c => c.Self.Recognised(c.Context, c.Service), (Self: this, Context: context, Service: service));
        try
        {
            await Authenticate(context, service);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Unauthenticated)
        {
            guard.Failed(peer);
            throw;
        }
    }

    private async Task Authenticate(ServerCallContext context, string service)
    {
        var key = BearerToken(context) ?? throw SchedulerErrors.Unauthenticated(context.RequestHeaders.Get("authorization") is null
            ? "missing 'authorization: Bearer <api-key>' metadata"
            : "malformed 'authorization' metadata: expected 'Bearer <api-key>'");
        if (service == AdminService.Descriptor.FullName)
        {
            context.UserState[AdminKey] = admins.Match(key) ?? throw await Refusal(key, service, "AdminService needs an admin key", "invalid API key");
            return;
        }

        if (service == NodeRegistryService.Descriptor.FullName)
        {
            if (!Matches(key, _nodeTokenHash))
            {
                throw await Refusal(key, service, "NodeRegistryService needs the node token", "invalid node token");
            }

            return;
        }

        context.UserState[TenantKey] = await keys.TenantFor(key)
            ?? throw await Refusal(key, service, "InferenceService needs a tenant's API key, not an admin key or the node token", "invalid API key");
    }

    /// <summary>Why <paramref name="key"/> does not open <paramref name="service"/>: PERMISSION_DENIED when it is a valid
    /// key of another kind (a tenant's, an admin's, the node token) — the caller holds a real credential and should be
    /// told it is the wrong one, and that is no failed authentication to count against its address — else UNAUTHENTICATED.</summary>
    private async Task<RpcException> Refusal(string key, string service, string wrongKind, string invalid)
    {
        var ofAnotherKind = (service != AdminService.Descriptor.FullName && admins.Match(key) is not null)
            || (service != NodeRegistryService.Descriptor.FullName && Matches(key, _nodeTokenHash))
            || (service != InferenceService.Descriptor.FullName && await keys.TenantFor(key) is not null);
        return ofAnotherKind ? SchedulerErrors.PermissionDenied(wrongKind) : SchedulerErrors.Unauthenticated(invalid);
    }

    // Whether the presented key works without a lookup: an admin or node secret, or a tenant key this silo found
    // valid before (an expired cache entry included; a revoked one fails its next lookup and is forgotten).
    private bool Recognised(ServerCallContext context, string service) =>
        BearerToken(context) is { } key && (service == AdminService.Descriptor.FullName ? admins.Match(key) is not null
            : service == NodeRegistryService.Descriptor.FullName ? Matches(key, _nodeTokenHash)
            : keys.WasValid(key));

    private static string? BearerToken(ServerCallContext context) => BearerToken(context.RequestHeaders.GetValue("authorization"));

    /// <summary>The key in an <c>authorization: Bearer &lt;key&gt;</c> header (gRPC metadata or HTTP), or null.</summary>
    public static string? BearerToken(string? header)
    {
        const string prefix = "Bearer ";
        return header is not null && header.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && header[prefix.Length..].Trim() is { Length: > 0 } key
            ? key
            : null;
    }

    private static string ServiceOf(string method)
    {
        // Method is "/package.Service/Method".
        var end = method.LastIndexOf('/');
        return end > 1 ? method[1..end] : method;
    }

    private static byte[] Hash(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes(secret));

    private static bool Matches(string presented, byte[] expectedHash) =>
        CryptographicOperations.FixedTimeEquals(Hash(presented), expectedHash);
}
