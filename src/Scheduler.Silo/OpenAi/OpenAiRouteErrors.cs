using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.WebUtilities;

namespace Scheduler.Silo.OpenAi;

/// <summary>
/// Gives the answers routing makes on its own under /v1 — no such route (404), a route asked with another method (405)
/// — and the OpenAI port's 404 for any path outside /v1 (<see cref="OpenAiPortGate"/>) the OpenAI error body the rest of
/// the API answers with: the OpenAI SDKs read <c>error.message</c> to say what went wrong, and an empty body left a
/// client that called, say, /v1/embeddings, or /chat/completions from a base URL without /v1, with a bare "404".
/// </summary>
internal static class OpenAiRouteErrors
{
    private static readonly string Served = string.Join(", ", OpenAiEndpoints.Routes.Select(r => $"{r.Method} {OpenAiEndpoints.Prefix}{r.Template.Replace("{**", "{", StringComparison.Ordinal)}"));

    /// <summary>For <c>UseStatusCodePages</c>: fills an empty error answer to a /v1 request; leaves any other alone.</summary>
    public static Task Answer(StatusCodeContext context)
    {
        var http = context.HttpContext;
        if (!http.Request.Path.StartsWithSegments(OpenAiEndpoints.Prefix, StringComparison.Ordinal) || http.RequestAborted.IsCancellationRequested)
        {
            return Task.CompletedTask;
        }

        // Another endpoint's catch-all (the dashboard's GET, gRPC's POST for unknown services) can answer 404 to a route
        // of this API asked with the wrong method before routing's own 405 would: the route's method says it is a 405.
        var status = http.Response.StatusCode;
        if (status == StatusCodes.Status404NotFound && MethodOf(http.Request.Path) is { } method)
        {
            status = http.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            http.Response.Headers.Allow = OpenAiEndpoints.Allowed(method);
        }

        return OpenAiErrors.Write(http, For(status, http.Request.Method, http.Request.Path, http.Response.Headers.Allow.ToString()));
    }

    /// <summary>The method this API serves <paramref name="path"/> with; null for a path it does not serve. The one
    /// judge of which paths are the API's: <see cref="OpenAiPortGate"/> answers any other with a 404 before routing,
    /// whose literal segments match in any case.</summary>
    public static string? MethodOf(PathString path) => Route(path.Value ?? "", StringComparison.Ordinal)?.Method;

    /// <summary>The route <paramref name="path"/> matches, its segments compared by <paramref name="comparison"/>, and
    /// the path as that route spells it.</summary>
    private static (string Method, string Path)? Route(string path, StringComparison comparison)
    {
        // As routing reads a path: one trailing slash is allowed, and an empty segment inside ("/v1//chat/completions")
        // is a segment of its own that no route has. Dropped, such a path had a route's method, and its routing 404 was
        // turned into a 405 "POST is not allowed on /v1//chat/completions; use POST".
        var segments = Segments(path);
        foreach (var (method, template) in OpenAiEndpoints.Routes)
        {
            // A template's segments match literally, a {parameter} any one segment, a last {**parameter} one or more.
            var parts = Segments(OpenAiEndpoints.Prefix + template);
            var catchAll = parts[^1].StartsWith("{**", StringComparison.Ordinal);
            if ((catchAll ? segments.Length >= parts.Length : parts.Length == segments.Length)
                && parts.Zip(segments).All(p => p.Second.Length > 0 && (p.First.StartsWith('{') || string.Equals(p.First, p.Second, comparison))))
            {
                return (method, "/" + string.Join('/', segments.Select((s, i) => i < parts.Length && !parts[i].StartsWith('{') ? parts[i] : s)));
            }
        }

        return null;
    }

    private static string[] Segments(string path)
    {
        var inner = path.AsSpan(path.StartsWith('/') ? 1 : 0);
        return (inner.EndsWith("/") ? inner[..^1] : inner).ToString().Split('/');
    }

    /// <summary>What a client that missed the API's routes should know: a path that is one of them without the /v1 in
    /// front comes from a client whose base URL lacks it (the SDKs append "/chat/completions" to it).</summary>
    private static string NotFoundHint(string path) =>
        !path.StartsWith(OpenAiEndpoints.Prefix + "/", StringComparison.Ordinal) && MethodOf(OpenAiEndpoints.Prefix + path) is { } method
            ? $"this API's routes are under {OpenAiEndpoints.Prefix} ({method} {OpenAiEndpoints.Prefix}{path}); the client's base URL probably lacks {OpenAiEndpoints.Prefix}"
            : path.Contains("//", StringComparison.Ordinal) && CollapseSlashes(path) is var single && MethodOf(single) is { } served
                // A base URL ending in a slash joined to a path starting with one: "…/v1/" + "/chat/completions".
                ? $"the path has an empty segment (//); this API serves {served} {single}: the client's base URL probably ends with a slash"
                : Route(path, StringComparison.OrdinalIgnoreCase) is { } route
                    // As OpenAI's API, whose paths are lower case and case-sensitive; routing alone took any case.
                    ? $"paths are case-sensitive; this API serves {route.Method} {route.Path}"
                    : $"this API serves {Served}";

    private static string CollapseSlashes(string path)
    {
        var single = path;
        while (single.Contains("//", StringComparison.Ordinal))
        {
            single = single.Replace("//", "/", StringComparison.Ordinal);
        }

        return single;
    }

    /// <summary>The error for an empty answer with <paramref name="status"/> to <paramref name="method"/>
    /// <paramref name="path"/>; <paramref name="allow"/> is the methods a 405's route takes.</summary>
    public static OpenAiError For(int status, string method, string path, string allow) => status switch
    {
        StatusCodes.Status404NotFound => new(status, "invalid_request_error", $"no route {method} {path}: {NotFoundHint(path)}", Code: "unknown_url"),
        StatusCodes.Status405MethodNotAllowed =>
            new(status, "invalid_request_error", $"{method} is not allowed on {path}{(allow.Length > 0 ? $"; use {allow}" : "")}", Code: "method_not_allowed"),
        < 500 => new(status, "invalid_request_error", ReasonPhrases.GetReasonPhrase(status)),
        _ => new(status, "server_error", ReasonPhrases.GetReasonPhrase(status)),
    };
}
