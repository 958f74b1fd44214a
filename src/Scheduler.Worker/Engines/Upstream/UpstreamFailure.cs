using System.Globalization;
using System.Net;
using System.Text.Json;
using Scheduler.Protos.Errors;

namespace Scheduler.Worker.Engines.Upstream;

/// <summary>What becomes of a sequence whose upstream request failed.</summary>
internal enum UpstreamFailureKind
{
    /// <summary>The upstream could not serve it now (unreachable, 5xx, a broken stream): it goes back to the scheduler
    /// to resume, from the tokens delivered, wherever there is room.</summary>
    HandBack,

    /// <summary>The upstream said 429: handed back like <see cref="HandBack"/>, and the replica sends nothing until
    /// the upstream's <c>Retry-After</c> has passed.</summary>
    RateLimited,

    /// <summary>The upstream refused the request itself (a 4xx other than 429): it would refuse it anywhere, so the
    /// job fails with the upstream's message.</summary>
    Refused,
}

/// <summary>An upstream request that failed, with the upstream's own message.</summary>
internal sealed class UpstreamFailure(UpstreamFailureKind kind, string message, TimeSpan? retryAfter = null, Exception? inner = null)
    : Exception(message, inner)
{
    // An error body can be a whole HTML page; the tenant reads the start of it.
    private const int MaxBodyCharacters = 500;

    public UpstreamFailureKind Kind => kind;

    /// <summary>With <see cref="UpstreamFailureKind.RateLimited"/>: how long the upstream asked to wait, when it said.</summary>
    public TimeSpan? RetryAfter => retryAfter;

    /// <summary>The failure an unsuccessful response means, carrying the message of its body.</summary>
    public static async Task<UpstreamFailure> FromResponseAsync(HttpResponseMessage response, TimeProvider time, CancellationToken cancellationToken)
    {
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        var status = (int)response.StatusCode;
        var message = string.Create(
            CultureInfo.InvariantCulture,
            $"upstream {response.RequestMessage?.RequestUri} answered {status} {response.ReasonPhrase}: {MessageOf(body)}");
        if (response.StatusCode == HttpStatusCode.TooManyRequests)
        {
            return new UpstreamFailure(UpstreamFailureKind.RateLimited, message, RetryAfterOf(response, time));
        }

        return status >= 500 || response.StatusCode == HttpStatusCode.RequestTimeout
            ? new UpstreamFailure(UpstreamFailureKind.HandBack, message)
            : new UpstreamFailure(UpstreamFailureKind.Refused, message);
    }

    private static string MessageOf(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            if (UpstreamChunk.ErrorOf(document.RootElement) is { } error)
            {
                return ErrorText.Cut(error, MaxBodyCharacters);
            }
        }
        catch (JsonException)
        {
            // Not JSON: the body as it is.
        }

        return body.Length == 0 ? "(no body)" : ErrorText.Cut(body.Trim(), MaxBodyCharacters);
    }


    private static TimeSpan? RetryAfterOf(HttpResponseMessage response, TimeProvider time) => response.Headers.RetryAfter switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date - time.GetUtcNow(),
        _ => null,
    };
}
