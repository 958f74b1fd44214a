using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace Scheduler.Silo.Api;

/// <summary>
/// Names the limit in gRPC's refusal of a request message over <see cref="ApiOptions.MaxReceiveMessageBytes"/>.
/// grpc-dotnet refuses it before any of the silo's code runs, with RESOURCE_EXHAUSTED "Received message exceeds the
/// maximum configured message size.": a client had no number to shrink its request to (a live probe from Node; the
/// grpc-go and C-core servers name it). The status is in the response's headers when nothing was sent before it
/// (SubmitJob, StreamJob: grpc-dotnet leaves such a response unstarted until the pipeline returns, so no per-call
/// callback is needed) and in its trailers otherwise (a StreamJobs message after the first).
/// </summary>
internal sealed class ReceiveLimitStatus(RequestDelegate next, IOptions<ApiOptions> options)
{
    private const string GrpcDotnetMessage = "Received message exceeds the maximum configured message size.";

    private readonly string _named =
        $"Received message exceeds the maximum configured message size of {options.Value.MaxReceiveMessageBytes} bytes.";

    // Other requests (the OpenAI API, /metrics) pass straight through, without a frame of this middleware's own.
    public Task InvokeAsync(HttpContext context) =>
        context.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) == true ? NameAfter(context) : next(context);

    private async Task NameAfter(HttpContext context)
    {
        await next(context);
        if (!context.Response.HasStarted)
        {
            Name(context.Response.Headers);
        }
        else if (context.Features.Get<IHttpResponseTrailersFeature>()?.Trailers is { IsReadOnly: false } trailers)
        {
            Name(trailers);
        }
    }

    private void Name(IHeaderDictionary headers)
    {
        if (headers["grpc-message"] == GrpcDotnetMessage)
        {
            headers["grpc-message"] = _named;
        }
    }
}
