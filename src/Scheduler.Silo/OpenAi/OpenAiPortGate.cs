using Scheduler.Silo.Hosting;

namespace Scheduler.Silo.OpenAi;

/// <summary>
/// The OpenAI port's first middleware: gives every response its <c>x-request-id</c> (<see cref="OpenAiRequestIds"/>), and
/// keeps the OpenAI-compatible API and the silo's other HTTP endpoints apart: /v1 answers only on the OpenAI port and
/// nothing else does (any other path there is an OpenAI-shaped 404), so a network policy that lets clients reach that
/// port exposes no metrics, dashboard or gRPC.
/// The port is looked up once the silo listens (it may be chosen at start-up).
/// </summary>
internal sealed class OpenAiPortGate(ListeningAddresses addresses) : IMiddleware
{
    private int _port;

    public Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        if (_port == 0)
        {
            _port = new Uri(addresses.OpenAi).Port;
        }

        var onOpenAiPort = context.Connection.LocalPort == _port;
        var request = context.Request;

        // Every response on the OpenAI port has an id, as OpenAI's API's have; this is the port's first middleware.
        if (onOpenAiPort && OpenAiRequestIds.Assign(context) is { } refusal)
        {
            return OpenAiErrors.Write(context, refusal);
        }

        // Routing matches a route's literal segments in any case: decided here, the OpenAI port serves only the API's
        // paths as they are spelled, as OpenAI's API does (/v1/Chat/Completions was served while /V1/chat/completions
        // was a 404 listing every route), and no other port serves any spelling of /v1 (/V1/models listed the models on
        // the silo's HTTP port).
        if (onOpenAiPort ? OpenAiRouteErrors.MethodOf(request.Path) is null : request.Path.StartsWithSegments(OpenAiEndpoints.Prefix, StringComparison.OrdinalIgnoreCase))
        {
            // On the OpenAI port the caller is an OpenAI client off the API's paths — most often an SDK whose base URL
            // lacks /v1 — and the SDKs show error.message: an empty 404 told it nothing. A /v1 path on another port
            // keeps its bare 404 and tells a scanner nothing.
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return onOpenAiPort
                ? OpenAiErrors.Write(context, OpenAiRouteErrors.For(StatusCodes.Status404NotFound, request.Method, request.Path, ""))
                : Task.CompletedTask;
        }

        return next(context);
    }
}
