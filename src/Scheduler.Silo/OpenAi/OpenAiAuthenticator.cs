using Scheduler.Silo.Api;

namespace Scheduler.Silo.OpenAi;

/// <summary>Authenticates an OpenAI API request by its <c>Authorization: Bearer &lt;tenant key&gt;</c> header: the same
/// keys, the same cache, and the same guard against repeated failures as the gRPC API.</summary>
internal sealed class OpenAiAuthenticator(ApiKeyCache keys, AuthFailureGuard guard)
{
    public async ValueTask<string> Tenant(HttpRequest request)
    {
        var peer = AuthFailureGuard.PeerOf(request.HttpContext.Connection.RemoteIpAddress);
        var key = AuthInterceptor.BearerToken(request.Headers.Authorization);
        guard.ThrowIfBlocked(peer, static k => k.Key is not null && k.Keys.WasValid(k.Key), (Key: key, Keys: keys));
        if ((key is null ? null : await keys.TenantFor(key)) is { } tenant)
        {
            return tenant;
        }

        guard.Failed(peer);
        throw SchedulerErrors.Unauthenticated(key is null ? "missing 'Authorization: Bearer <api-key>' header" : "invalid API key");
    }
}
