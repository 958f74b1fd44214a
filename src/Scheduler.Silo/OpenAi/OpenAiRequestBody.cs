using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.RequestDecompression;
using Microsoft.Net.Http.Headers;
using Scheduler.Silo.Api;

namespace Scheduler.Silo.OpenAi;

/// <summary>
/// A request's body as the reader parses it: JSON by its <c>Content-Type</c> (or with none), decoded when its
/// <c>Content-Encoding</c> is one ASP.NET Core's request decompression knows (gzip, deflate, br), and refused with 415
/// naming any other — parsed as sent, a compressed body was a 400 "'0x1F' is an invalid start of a value" (an outside
/// probe). The server's body size limit (Kestrel's
/// <c>MaxRequestBodySize</c>, set to <see cref="ApiOptions.MaxReceiveMessageBytes"/>) holds for the decoded bytes too, so a small compressed body cannot unpack
/// past it (a gzip bomb): Kestrel counts only the bytes on the wire.
/// </summary>
internal static class OpenAiRequestBody
{
    /// <summary>The body to parse, and the encoding it is decoded from (null: as sent; the caller disposes a decoded
    /// body).</summary>
    public static (Stream Body, string? Encoding) Open(HttpRequest request, IRequestDecompressionProvider decompression)
    {
        RefuseOtherMediaTypes(request.ContentType);
        var encoding = request.Headers.ContentEncoding.ToString();
        if (encoding.Length == 0 || encoding.Equals("identity", StringComparison.OrdinalIgnoreCase))
        {
            return (request.Body, null);
        }

        // The provider takes the header off the request when it decodes; it answers null for an encoding it does not know
        // and for more than one (which no client sends).
        if (decompression.GetDecompressionStream(request.HttpContext) is not { } decoded)
        {
            throw new BadHttpRequestException(
                $"Content-Encoding '{SchedulerErrors.Echo(encoding)}' is not supported: send the body as it is, or encoded gzip, deflate or br",
                StatusCodes.Status415UnsupportedMediaType);
        }

        var limit = request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize;
        return (limit is { } max ? new Limited(decoded, max, encoding) : decoded, encoding);
    }

    /// <summary>Refuses a body that says it is something other than JSON (415, naming what it says), as vLLM does: read as
    /// JSON anyway, a form post (<c>curl -d</c> without <c>-H 'Content-Type: application/json'</c>) or text/plain was
    /// answered as if it were JSON, and one that was not got a JSON parse error that never mentioned the header. A
    /// body with no Content-Type is read as JSON.</summary>
    private static void RefuseOtherMediaTypes(string? contentType)
    {
        if (string.IsNullOrEmpty(contentType))
        {
            return;
        }

        var mediaType = MediaTypeHeaderValue.TryParse(contentType, out var parsed) ? parsed.MediaType.Value : null;
        if (mediaType is not null
            && (mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase) || mediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase)))
        {
            return;
        }

        throw new BadHttpRequestException(
            $"Content-Type '{SchedulerErrors.Echo(contentType)}' is not supported: send the body as JSON with 'Content-Type: application/json'",
            StatusCodes.Status415UnsupportedMediaType);
    }

    /// <summary>A decoded body that throws Kestrel's own 413 once it has given more than <paramref name="max"/> bytes.
    /// (The framework's request decompression middleware has such a limit too, but throws an InvalidOperationException
    /// that would be a 500.)</summary>
    private sealed class Limited(Stream decoded, long max, string encoding) : ReadOnlyWrapperStream(decoded)
    {
        private long _read;

        public override long Position { get => _read; set => throw new NotSupportedException(); }

        public override int Read(Span<byte> buffer) => Count(Inner.Read(buffer));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Count(await Inner.ReadAsync(buffer, cancellationToken));

        private int Count(int read)
        {
            _read += read;
            return _read <= max
                ? read
                : throw new BadHttpRequestException(
                    $"Request body too large once decoded from {encoding}. The max request body size is {max} bytes.", StatusCodes.Status413PayloadTooLarge);
        }
    }
}
