using Grpc.Core;
using Grpc.Core.Interceptors;
using Scheduler.Protos.V1;

namespace Scheduler.Silo.Api;

/// <summary>
/// Authenticates every call before its handler runs: tenants by API key (looked up by its hash), admins and
/// worker nodes by their configured secrets (admin keys through <see cref="AdminKeys"/>, which may change while the
/// silo runs). The resolved tenant, or admin key's fingerprint, is left in <see cref="ServerCallContext.UserState"/>.
/// A peer that fails too often is refused before any lookup (<see cref="AuthFailureGuard"/>); a valid key of the wrong
/// kind is PERMISSION_DENIED, as on the OpenAI door (<see cref="Credentials"/>). A unary or server-streaming call is
/// authenticated before its message is read, by <see cref="RequestMessageBudget"/>, and not again here.
/// </summary>
internal sealed class AuthInterceptor(Credentials credentials) : Interceptor
{
    private const string TenantKey = "scheduler.tenant";
    /// <summary>Where <see cref="AdminOf"/> finds the admin key's fingerprint in <see cref="ServerCallContext.UserState"/>.</summary>
    internal const string AdminKey = "scheduler.admin";

    /// <summary>The keyless callers' share of the request memory: a space in it, so no tenant id (<see cref="Identifiers"/>)
    /// can be the same.</summary>
    internal const string KeylessShare = "callers without a key";

    // In the call's items once it is authenticated, whoever did it.
    private static readonly object Authenticated = new();

    // In the call's items when its service is open to all.
    private static readonly object OpenToAll = new();

    /// <summary>The tenant the current call authenticated as.</summary>
    public static string TenantOf(ServerCallContext context) => (string)context.UserState[TenantKey];

    /// <summary>The tenant the call <paramref name="http"/> carries authenticated as; null before it is authenticated,
    /// or when it is no tenant's (an admin's, a node's, an open service's).</summary>
    public static string? TenantOf(HttpContext http) => http.Items.TryGetValue(TenantKey, out var tenant) ? tenant as string : null;

    /// <summary>Whose share of the silo's request memory (<see cref="RequestBodyBudget"/>) the call's messages count
    /// against once it is authenticated: its tenant's; for the services open to all (health, reflection), whose callers
    /// carry no key, <see cref="KeylessShare"/>, one share for all of them together; none for an admin's or a node's call.
    /// Without it a client with no key could hold the whole budget with slowly sent messages to an open service.</summary>
    public static string? BudgetShareOf(HttpContext http) =>
        TenantOf(http) ?? (http.Items.ContainsKey(OpenToAll) ? KeylessShare : null);

    /// <summary>The fingerprint of the admin key the current AdminService call authenticated with.</summary>
    public static string AdminOf(ServerCallContext context) => (string)context.UserState[AdminKey];

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        await Authenticate(context.GetHttpContext());
        return await continuation(request, context);
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        await Authenticate(context.GetHttpContext());
        await continuation(request, responseStream, context);
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        await Authenticate(context.GetHttpContext());
        await continuation(requestStream, responseStream, context);
    }

    /// <summary>Authenticates the call <paramref name="http"/> carries, once: a second call for it returns at once.</summary>
    /// <exception cref="RpcException">The call's credential is refused.</exception>
    public async ValueTask Authenticate(HttpContext http)
    {
        if (http.Items.ContainsKey(Authenticated))
        {
            return;
        }

        await Check(http);
        http.Items[Authenticated] = Authenticated;
    }

    /// <summary>Checks the tenant key the call <paramref name="http"/> carries again, past <see cref="Authenticate"/>'s
    /// once-per-call mark, and returns its tenant: for a call kept open while keys can be revoked (StreamJobs).</summary>
    /// <exception cref="RpcException">The key is refused now.</exception>
    public ValueTask<string> AuthenticateTenantAgain(HttpContext http) =>
        AuthenticateCall(http, CredentialKind.TenantKey, InferenceService.Descriptor.Name);

    private ValueTask<string> AuthenticateCall(HttpContext http, CredentialKind kind, string door) =>
        credentials.Authenticate(http.Request, kind, door, "authorization", "metadata");

    private async ValueTask Check(HttpContext http)
    {
        // Path is the call's method, "/package.Service/Method".
        var service = ServiceOf(http.Request.Path.Value ?? "");

        // Open to all: health for probes, which send no metadata; reflection tells only what the published protos do.
        if (service is "grpc.health.v1.Health" or "grpc.reflection.v1alpha.ServerReflection" or "grpc.reflection.v1.ServerReflection")
        {
            http.Items[OpenToAll] = OpenToAll;
            return;
        }

        var (kind, door) = service == AdminService.Descriptor.FullName ? (CredentialKind.AdminKey, AdminService.Descriptor.Name)
            : service == NodeRegistryService.Descriptor.FullName ? (CredentialKind.NodeToken, NodeRegistryService.Descriptor.Name)
            : (CredentialKind.TenantKey, InferenceService.Descriptor.Name);
        var identity = await AuthenticateCall(http, kind, door);
        if (kind != CredentialKind.NodeToken)
        {
            // The call's items are its ServerCallContext.UserState.
            http.Items[kind == CredentialKind.AdminKey ? AdminKey : TenantKey] = identity;
        }
    }

    private static string ServiceOf(string method)
    {
        // Method is "/package.Service/Method".
        var end = method.LastIndexOf('/');
        return end > 1 ? method[1..end] : method;
    }
}
