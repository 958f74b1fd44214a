using Scheduler.Silo.Api;

namespace Scheduler.Silo.OpenAi;

/// <summary>Authenticates an OpenAI API request by its <c>Authorization: Bearer &lt;tenant key&gt;</c> header: the same
/// keys, the same cache, the same guard against repeated failures and the same refusals as the gRPC API's
/// InferenceService (<see cref="Credentials"/>): an admin key or the node token is a 403 naming the kind wanted, not
/// counted as a failed login; a key that is nobody's a 401.</summary>
internal sealed class OpenAiAuthenticator(Credentials credentials)
{
    public ValueTask<string> Tenant(HttpRequest request) => credentials.Authenticate(
        AuthFailureGuard.PeerOf(request.HttpContext.Connection.RemoteIpAddress),
        Credentials.BearerToken(request.Headers.Authorization),
        CredentialKind.TenantKey,
        "the OpenAI-compatible API",
        request.Headers.Authorization.Count == 0
            ? "missing 'Authorization: Bearer <api-key>' header"
            : "malformed 'Authorization' header: expected 'Bearer <api-key>'");
}
