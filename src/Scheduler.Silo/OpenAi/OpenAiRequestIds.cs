using System.Diagnostics;
using Scheduler.Silo.Api;

namespace Scheduler.Silo.OpenAi;

/// <summary>
/// The <c>x-request-id</c> response header OpenAI's API sends on every response, which clients log for support (the
/// OpenAI SDKs show it as the error's and response's request id). A request that made a job answers with the job's id,
/// which <c>schedctl get</c>/<c>explain</c>, GetJob and the silo's logs know it by; any other response with a fresh id.
/// A client's own <c>x-request-id</c> is echoed instead, as vLLM does, so a gateway's id follows the request through; the
/// job id is in <c>x-scheduler-job-id</c> then, and the client's id on the request's trace span.
/// </summary>
internal static class OpenAiRequestIds
{
    public const string Header = "x-request-id";

    /// <summary>The longest id echoed (<see cref="JobRequestValidator.MaxIdentifierLength"/>); a longer one is refused,
    /// not cut, so the id the client logged is always the one it sent.</summary>
    public const int MaxLength = JobRequestValidator.MaxIdentifierLength;

    // OpenTelemetry's attribute for a captured request header (http.request.header.<name>).
    private const string SpanTag = "http.request.header." + Header;

    /// <summary>Gives the response its id: the client's, or a fresh one. The refusal (and the response's id a fresh one)
    /// when the client's cannot be echoed, which the caller answers with.</summary>
    public static OpenAiError? Assign(HttpContext http)
    {
        // The first, if a proxy added another, as vLLM reads it.
        var id = Sent(http);
        var problem = id switch
        {
            null => null,
            { Length: > MaxLength } => $"must be at most {MaxLength} characters",

            // A response header holds only ASCII: echoing a character Kestrel decoded from UTF-8 ("é") threw as the
            // response started, a 500 with an empty body.
            _ when id.Any(c => c is < ' ' or > '~') => "must be printable ASCII, as it is echoed in the response's headers",
            _ => null,
        };

        if (id is null || problem is not null)
        {
            http.Response.Headers[Header] = "req-" + Guid.NewGuid().ToString("N");
            return problem is null ? null : new(StatusCodes.Status400BadRequest, "invalid_request_error", $"{Header}: {problem}", Header);
        }

        http.Response.Headers[Header] = id;
        Activity.Current?.SetTag(SpanTag, id);
        return null;
    }

    /// <summary>A request that made <paramref name="jobId"/> answers with it, unless its client sent an id of its own.</summary>
    public static void ForJob(HttpContext http, string jobId)
    {
        if (Sent(http) is null)
        {
            http.Response.Headers[Header] = jobId;
        }
    }

    private static string? Sent(HttpContext http) => http.Request.Headers[Header] is { Count: > 0 } sent && !string.IsNullOrEmpty(sent[0]) ? sent[0] : null;
}
