using Scheduler.Silo.Api;

namespace Scheduler.Silo.OpenAi;

/// <summary>Authenticates an OpenAI API request by its <c>Authorization: Bearer &lt;tenant key&gt;</c> header: the same
/// keys, the same cache, the same guard against repeated failures and the same refusals as the gRPC API's
/// InferenceService (<see cref="Credentials"/>): an admin key or the node token is a 403 naming the kind wanted, not
/// counted as a failed login; a key that is nobody's a 401.</summary>
internal sealed class OpenAiAuthenticator(Credentials credentials)
{
    public ValueTask<string> Tenant(HttpRequest request) =>
        credentials.Authenticate(request, CredentialKind.TenantKey, "the OpenAI-compatible API", "Authorization", "header");
}
