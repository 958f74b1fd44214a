using Scheduler.Silo.Hosting;

namespace Scheduler.Silo.OpenAi;

/// <summary>
/// Keeps the OpenAI-compatible API and the silo's other HTTP endpoints apart: /v1 answers only on the OpenAI port and
/// nothing else does, so a network policy that lets clients reach that port exposes no metrics, dashboard or gRPC.
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
        if (onOpenAiPort != context.Request.Path.StartsWithSegments(OpenAiEndpoints.Prefix, StringComparison.Ordinal))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        }

        return next(context);
    }
}
