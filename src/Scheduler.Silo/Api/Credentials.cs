using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Grpc.Core;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
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
/// is nobody's, or none, is UNAUTHENTICATED and counted by <see cref="AuthFailureGuard"/>. An authorization sent more
/// than once is UNAUTHENTICATED saying so, and not counted: no key was tried (joined, the two read as one wrong key).
/// </summary>
internal sealed partial class Credentials(ApiKeyCache keys, AdminKeys admins, AuthFailureGuard guard, IOptions<NodeOptions> nodes)
{
    private readonly byte[] _nodeTokenHash = Hash(nodes.Value.NodeToken);

    /// <summary>Who the bearer key in <paramref name="request"/>'s authorization is as a credential of
    /// <paramref name="wanted"/>: the tenant, the admin key's fingerprint, or "node".</summary>
    /// <param name="request">The HTTP request: of the OpenAI door, or under a gRPC call (whose metadata grpc-dotnet
    /// joins into one value when a name repeats, so the repeats are counted on the request).</param>
    /// <param name="wanted">The kind the door takes.</param>
    /// <param name="door">The door, as its refusal names it ("InferenceService").</param>
    /// <param name="header">The header's name as the door's clients write it ("authorization" in gRPC metadata).</param>
    /// <param name="carrier">What carries it, for a refusal to say: "metadata" or "header".</param>
    public async ValueTask<string> Authenticate(HttpRequest request, CredentialKind wanted, string door, string header, string carrier)
    {
        var authorization = request.Headers.Authorization;
        if (CredentialsIn(authorization) is var sent and > 1)
        {
            // Which of them the client meant is not ours to guess, and joined they are no key: refused, and no failed
            // authentication (no key was tried), so a client that sends its key twice is not blocked as a guesser.
            throw SchedulerErrors.Unauthenticated($"'{header}' {carrier} must be sent once, got {sent} values: send one '{header}: Bearer <api-key>'");
        }

        var peer = AuthFailureGuard.PeerOf(request.HttpContext.Connection.RemoteIpAddress);
        var key = BearerToken(authorization);
        guard.ThrowIfBlocked(peer, static s => s.Key is not null && s.Self.Recognised(s.Key, s.Wanted), (Self: this, Key: key, Wanted: wanted));
        try
        {
            return key is null
                ? throw SchedulerErrors.Unauthenticated(authorization.Count == 0
                    ? $"missing '{header}: Bearer <api-key>' {carrier}"
                    : $"malformed '{header}' {carrier}: expected 'Bearer <api-key>'")
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

    /// <summary>How many credentials <paramref name="authorization"/> holds: one a header line, and more in a line an
    /// intermediary (or .NET's HttpClient) joined from several with commas, as HTTP lets it (RFC 9110, 5.3). A key
    /// has no spaces (<see cref="PresentableKeys"/>), so a comma before another "Bearer " never is part of one.</summary>
    private static int CredentialsIn(StringValues authorization)
    {
        var count = 0;
        foreach (var value in authorization)
        {
            count += 1 + (value is null ? 0 : JoinedScheme().Count(value));
        }

        return count;
    }

    [GeneratedRegex(@",[ \t]*Bearer[ \t]", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex JoinedScheme();

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
