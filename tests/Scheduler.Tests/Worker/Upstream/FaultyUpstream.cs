using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace Scheduler.Tests.Worker.Upstream;

/// <summary>What the upstream received: the path, the bearer header and the JSON body.</summary>
internal sealed record UpstreamCall(string Path, string? Authorization, JsonElement Body);

/// <summary>
/// A deliberately faulty OpenAI-compatible upstream for the upstream engine's fault tests: a real Kestrel server on a
/// loopback port that answers each request the way the test says — a recorded transcript, an error status, a stream
/// cut off mid-generation, a stream that never ends. It generates nothing: it is the harness for failures a real
/// server shows only by accident. The engine's acceptance against a real server runs in a separate process.
/// </summary>
internal sealed class FaultyUpstream : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FaultyUpstream()
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        _app = builder.Build();
        _app.Run(async context =>
        {
            using var body = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
            Calls.Enqueue(new UpstreamCall(context.Request.Path, context.Request.Headers.Authorization.FirstOrDefault(), body.RootElement.Clone()));
            await Respond(context);
        });
    }

    /// <summary>Every request so far, in arrival order.</summary>
    public ConcurrentQueue<UpstreamCall> Calls { get; } = new();

    /// <summary>How the next requests are answered.</summary>
    public Func<HttpContext, Task> Respond { get; set; } = Status(500, "no answer set");

    public Uri BaseUri => new(_app.Urls.Single());

    public static async Task<FaultyUpstream> StartAsync()
    {
        var upstream = new FaultyUpstream();
        await upstream._app.StartAsync();
        return upstream;
    }

    /// <summary>Streams <paramref name="transcript"/> event by event, each flushed; after the first event it waits for
    /// <paramref name="afterFirst"/> when given, so a test can see tokens arrive before the stream ends.</summary>
    public static Func<HttpContext, Task> Transcript(string transcript, Task? afterFirst = null) => async context =>
    {
        context.Response.ContentType = "text/event-stream";
        var events = Events(transcript);
        for (var i = 0; i < events.Count; i++)
        {
            await context.Response.WriteAsync(events[i], context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
            if (i == 0 && afterFirst is not null)
            {
                await afterFirst.WaitAsync(context.RequestAborted);
            }
        }
    };

    /// <summary>Streams the first <paramref name="events"/> events of <paramref name="transcript"/>, then resets the
    /// connection once <paramref name="cutWhen"/> completes (the client has read them: a reset discards what it has not).</summary>
    public static Func<HttpContext, Task> CutAfter(string transcript, int events, Task cutWhen) => async context =>
    {
        context.Response.ContentType = "text/event-stream";
        foreach (var e in Events(transcript).Take(events))
        {
            await context.Response.WriteAsync(e, context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
        }

        await cutWhen.WaitAsync(context.RequestAborted);
        context.Abort();
    };

    /// <summary>Streams the first event of <paramref name="transcript"/>, then holds the stream open until the client
    /// aborts it, and completes <paramref name="aborted"/> then.</summary>
    public static Func<HttpContext, Task> Hang(string transcript, TaskCompletionSource aborted) => async context =>
    {
        context.Response.ContentType = "text/event-stream";
        await context.Response.WriteAsync(Events(transcript)[0], context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
        try
        {
            await Task.Delay(Timeout.Infinite, context.RequestAborted);
        }
        catch (OperationCanceledException)
        {
            aborted.TrySetResult();
        }
    };

    /// <summary>Reads the request and answers nothing — no status, no byte — until the client aborts, completing
    /// <paramref name="aborted"/> then: a hung server.</summary>
    public static Func<HttpContext, Task> Silent(TaskCompletionSource aborted) => async context =>
    {
        try
        {
            await Task.Delay(Timeout.Infinite, context.RequestAborted);
        }
        catch (OperationCanceledException)
        {
            aborted.TrySetResult();
        }
    };

    /// <summary>Answers <paramref name="status"/> with an OpenAI error body carrying <paramref name="message"/>.</summary>
    public static Func<HttpContext, Task> Status(int status, string message, string? retryAfter = null) => async context =>
    {
        context.Response.StatusCode = status;
        if (retryAfter is not null)
        {
            context.Response.Headers.RetryAfter = retryAfter;
        }

        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(JsonSerializer.Serialize(new { error = new { message, type = "test_error", code = status } }), Encoding.UTF8);
    };

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private static List<string> Events(string transcript) =>
        [.. transcript.ReplaceLineEndings("\n").Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Where(e => e.Trim().Length > 0).Select(e => e.Trim() + "\n\n")];
}
