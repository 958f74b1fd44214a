using System.Text;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.RequestDecompression;
using Microsoft.Net.Http.Headers;
using Scheduler.Silo.Api;

namespace Scheduler.Silo.OpenAi;

/// <summary>
/// A request's body as the reader parses it: JSON by its <c>Content-Type</c> (or with none), decoded when its
/// <c>Content-Encoding</c> is one ASP.NET Core's request decompression knows (gzip, deflate, br), and refused with 415
/// naming any other — parsed as sent, a compressed body was a 400 "'0x1F' is an invalid start of a value" (an outside
/// probe) — and, when its Content-Type names a charset other than UTF-8, decoded from that charset. The server's body
/// size limit (Kestrel's
/// <c>MaxRequestBodySize</c>, set to <see cref="ApiOptions.MaxReceiveMessageBytes"/>) holds for the decoded bytes too, so a small compressed body cannot unpack
/// past it (a gzip bomb): Kestrel counts only the bytes on the wire.
/// </summary>
internal static class OpenAiRequestBody
{
    /// <summary>The body to parse, as UTF-8, and the encoding it is decoded from (null: as sent; the caller disposes a
    /// decoded body).</summary>
    public static (Stream Body, string? Encoding) Open(HttpRequest request, IRequestDecompressionProvider decompression)
    {
        var charset = Charset(request.ContentType);
        var (body, encoding) = Decompressed(request, decompression);
        if (charset is null && encoding is null)
        {
            return (body, null);
        }

        // The parser reads UTF-8 only: a body in the charset its Content-Type names (a .NET StringContent made with
        // Encoding.Unicode says utf-16) was parsed as UTF-8, a 400 "'0xFF' is an invalid start of a value".
        var from = encoding ?? charset!.WebName;
        var limit = request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize ?? long.MaxValue;
#pragma warning disable CA2000 // Limited owns the transcoding stream and disposes it with itself; the caller disposes Limited.
        return (new Limited(charset is null ? body : Encoding.CreateTranscodingStream(body, charset, Encoding.UTF8, leaveOpen: encoding is null), limit, from), from);
#pragma warning restore CA2000
    }

    private static (Stream Body, string? Encoding) Decompressed(HttpRequest request, IRequestDecompressionProvider decompression)
    {
        var encoding = request.Headers.ContentEncoding.ToString();
        if (encoding.Length == 0 || encoding.Equals("identity", StringComparison.OrdinalIgnoreCase))
        {
            return (request.Body, null);
        }

        // The provider takes the header off the request when it decodes; it answers null for an encoding it does not know
        // and for more than one (which no client sends).
        return decompression.GetDecompressionStream(request.HttpContext) is { } decoded
            ? (decoded, encoding)
            : throw new BadHttpRequestException(
                $"Content-Encoding '{SchedulerErrors.Echo(encoding)}' is not supported: send the body as it is, or encoded gzip, deflate or br",
                StatusCodes.Status415UnsupportedMediaType);
    }

    /// <summary>The charset to decode the body from; null for UTF-8 (or US-ASCII, a part of it), or none said. Refuses a
    /// body that says it is something other than JSON (415, naming what it says), as vLLM does: read as
    /// JSON anyway, a form post (<c>curl -d</c> without <c>-H 'Content-Type: application/json'</c>) or text/plain was
    /// answered as if it were JSON, and one that was not got a JSON parse error that never mentioned the header. A
    /// body with no Content-Type is read as JSON; one in a charset .NET cannot decode is a 415 naming it.</summary>
    private static Encoding? Charset(string? contentType)
    {
        if (string.IsNullOrEmpty(contentType))
        {
            return null;
        }

        var parsed = MediaTypeHeaderValue.TryParse(contentType, out var value) ? value : null;
        var mediaType = parsed?.MediaType.Value;
        if (mediaType is null
            || !(mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase) || mediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase)))
        {
            throw new BadHttpRequestException(
                $"Content-Type '{SchedulerErrors.Echo(contentType)}' is not supported: send the body as JSON with 'Content-Type: application/json'",
                StatusCodes.Status415UnsupportedMediaType);
        }

        var name = HeaderUtilities.RemoveQuotes(parsed!.Charset).Value;
        if (string.IsNullOrEmpty(name))
        {
            return null;
        }

        Encoding charset;
        try
        {
            charset = Encoding.GetEncoding(name);
        }
        catch (ArgumentException)
        {
            throw new BadHttpRequestException(
                $"Content-Type '{SchedulerErrors.Echo(contentType)}' is not supported: charset '{SchedulerErrors.Echo(name)}' is not one this API decodes; send the body as UTF-8",
                StatusCodes.Status415UnsupportedMediaType);
        }

        return charset.CodePage is Utf8CodePage or UsAsciiCodePage ? null : charset;
    }

    private const int Utf8CodePage = 65001, UsAsciiCodePage = 20127;

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
