using Scheduler.Silo.Api;

namespace Scheduler.Silo.OpenAi;

/// <summary>Authenticates an OpenAI API request by its <c>Authorization: Bearer &lt;tenant key&gt;</c> header: the same
/// keys, and the same cache, as the gRPC API.</summary>
internal sealed class OpenAiAuthenticator(ApiKeyCache keys)
{
    public async ValueTask<string> Tenant(HttpRequest request)
    {
        var key = AuthInterceptor.BearerToken(request.Headers.Authorization)
            ?? throw SchedulerErrors.Unauthenticated("missing 'Authorization: Bearer <api-key>' header");
        return await keys.TenantFor(key) ?? throw SchedulerErrors.Unauthenticated("invalid API key");
    }
}
