using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using Microsoft.Extensions.Options;
using Scheduler.Silo.Nodes;

namespace Scheduler.Silo.Api;

/// <summary>The kind of credential a door takes.</summary>
internal enum CredentialKind
{
    /// <summary>A tenant's API key: InferenceService and the OpenAI-compatible API.</summary>
    TenantKey,

    /// <summary>An admin key (<see cref="AdminKeys"/>): AdminService.</summary>
    AdminKey,

    /// <summary>The worker nodes' shared token: NodeRegistryService.</summary>
    NodeToken,
}

/// <summary>
/// Checks a presented key against the kind a door wants, for both front doors (<see cref="AuthInterceptor"/> for gRPC,
/// the OpenAI door's authenticator), so they refuse alike: a valid key of another kind is PERMISSION_DENIED naming the
/// kind wanted — the caller holds a real credential, the wrong one, and that is no failed authentication to count
/// against its address (an operator's tool retrying with its admin key would get its address blocked) — and a key that
/// is nobody's, or none, is UNAUTHENTICATED and counted by <see cref="AuthFailureGuard"/>.
/// </summary>
internal sealed class Credentials(ApiKeyCache keys, AdminKeys admins, AuthFailureGuard guard, IOptions<NodeOptions> nodes)
{
    private readonly byte[] _nodeTokenHash = Hash(nodes.Value.NodeToken);

    /// <summary>Who <paramref name="key"/> is as a credential of <paramref name="wanted"/>: the tenant, the admin key's
    /// fingerprint, or "node".</summary>
    /// <param name="peer">The caller's address (<see cref="AuthFailureGuard.PeerOf"/>).</param>
    /// <param name="key">The bearer key presented, or null when there is none.</param>
    /// <param name="wanted">The kind the door takes.</param>
    /// <param name="door">The door, as its refusal names it ("InferenceService").</param>
    /// <param name="noKey">What to tell a caller that presented no bearer key (the door's words for its header).</param>
    public async ValueTask<string> Authenticate(string peer, string? key, CredentialKind wanted, string door, string noKey)
    {
        guard.ThrowIfBlocked(peer, static s => s.Key is not null && s.Self.Recognised(s.Key, s.Wanted), (Self: this, Key: key, Wanted: wanted));
        try
        {
            return key is null ? throw SchedulerErrors.Unauthenticated(noKey)
                : await Identify(key, wanted) ?? throw await Refusal(key, wanted, door);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Unauthenticated)
        {
            guard.Failed(peer);
            throw;
        }
    }

    /// <summary>The key in an <c>authorization: Bearer &lt;key&gt;</c> header (gRPC metadata or HTTP), or null.</summary>
    public static string? BearerToken(string? header)
    {
        const string prefix = "Bearer ";
        return header is not null && header.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && header[prefix.Length..].Trim() is { Length: > 0 } key
            ? key
            : null;
    }

    private async ValueTask<string?> Identify(string key, CredentialKind kind) => kind switch
    {
        CredentialKind.AdminKey => admins.Match(key),
        CredentialKind.NodeToken => IsNodeToken(key) ? "node" : null,
        _ => await keys.TenantFor(key),
    };

    private async Task<RpcException> Refusal(string key, CredentialKind wanted, string door)
    {
        var ofAnotherKind = (wanted != CredentialKind.AdminKey && admins.Match(key) is not null)
            || (wanted != CredentialKind.NodeToken && IsNodeToken(key))
            || (wanted != CredentialKind.TenantKey && await keys.TenantFor(key) is not null);
        return ofAnotherKind
            ? SchedulerErrors.PermissionDenied(door + " needs " + wanted switch
            {
                CredentialKind.AdminKey => "an admin key",
                CredentialKind.NodeToken => "the node token",
                _ => "a tenant's API key, not an admin key or the node token",
            })
            : SchedulerErrors.Unauthenticated(wanted == CredentialKind.NodeToken ? "invalid node token" : "invalid API key");
    }

    // Whether the presented key works without a lookup: an admin or node secret, or a tenant key this silo found
    // valid before (an expired cache entry included; a revoked one fails its next lookup and is forgotten).
    private bool Recognised(string key, CredentialKind kind) => kind switch
    {
        CredentialKind.AdminKey => admins.Match(key) is not null,
        CredentialKind.NodeToken => IsNodeToken(key),
        _ => keys.WasValid(key),
    };

    private bool IsNodeToken(string key) => CryptographicOperations.FixedTimeEquals(Hash(key), _nodeTokenHash);

    private static byte[] Hash(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes(secret));
}
