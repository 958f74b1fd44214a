using System.IO.Compression;
using System.Text;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Scheduler.Silo.Api;
using Scheduler.Silo.OpenAi;

namespace Scheduler.Tests.Silo.OpenAi;

/// <summary>Compressed request bodies: decoded (gzip, deflate, br) within the body size limit, or refused saying why.
/// Parsed as sent, a gzip body was a 400 "'0x1F' is an invalid start of a value" (an outside probe).</summary>
public sealed class OpenAiRequestBodyTests
{
    private const string Tenant = "acme";

    private readonly OpenAiRequestReader _reader = OpenAiRequestReaderTests.NewReader();

    [Theory]
    [InlineData("gzip")]
    [InlineData("GZIP")]
    [InlineData("deflate")]
    [InlineData("br")]
    public async Task Read_CompressedBody_IsDecoded(string encoding)
    {
        var request = await _reader.Read(Request(Encode("""{"model":"m","prompt":"a compressed hello","max_tokens":3}""", encoding), encoding), OpenAiKind.Completion, Tenant);

        Assert.Equal(("a compressed hello", 3), (request.Submit.Prompt, request.Submit.MaxTokens));
    }

    [Fact]
    public async Task Read_BodyDecodedPastTheSizeLimit_Is413_ThoughItsCompressedBytesAreFew()
    {
        // 100,000 bytes of JSON, a few hundred compressed, against a limit of 10,000: a gzip bomb in small.
        var json = $$"""{"model":"m","prompt":"{{new string('a', 100_000)}}"}""";
        var body = Encode(json, "gzip");
        Assert.True(body.Length < 1_000, $"{body.Length} bytes compressed");

        var ex = await Assert.ThrowsAsync<BadHttpRequestException>(() => _reader.Read(Request(body, "gzip", limit: 10_000), OpenAiKind.Completion, Tenant));

        Assert.Equal(StatusCodes.Status413PayloadTooLarge, ex.StatusCode);
        Assert.Contains("10000 bytes", ex.Message, StringComparison.Ordinal);

        // Within the limit the same body is read.
        Assert.Equal(100_000, (await _reader.Read(Request(body, "gzip", limit: 200_000), OpenAiKind.Completion, Tenant)).Submit.Prompt.Length);
    }

    [Theory]
    [InlineData("zstd")]
    [InlineData("gzip, br")]
    public async Task Read_EncodingNotDecoded_Is415NamingIt(string encoding)
    {
        var ex = await Assert.ThrowsAsync<BadHttpRequestException>(() => _reader.Read(Request([0x28, 0xB5, 0x2F, 0xFD], encoding), OpenAiKind.Completion, Tenant));

        Assert.Equal(StatusCodes.Status415UnsupportedMediaType, ex.StatusCode);
        Assert.StartsWith($"Content-Encoding '{encoding}' is not supported", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("gzip")]
    [InlineData("br")]
    public async Task Read_BodyThatIsNotWhatItsEncodingSays_Is400NamingTheBody(string encoding)
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => _reader.Read(Request(Encoding.UTF8.GetBytes("""{"model":"m","prompt":"plain"}"""), encoding), OpenAiKind.Completion, Tenant));

        Assert.Equal((StatusCode.InvalidArgument, "body"), (ex.StatusCode, SchedulerErrors.FieldOf(ex)));
        Assert.Equal($"body: is not valid {encoding} data", ex.Status.Detail);
    }

    [Fact]
    public async Task Read_IdentityEncoding_IsTheBodyAsSent() =>
        Assert.Equal("x", (await _reader.Read(Request(Encoding.UTF8.GetBytes("""{"model":"m","prompt":"x"}"""), "identity"), OpenAiKind.Completion, Tenant)).Submit.Prompt);

    [Theory]
    [InlineData("text/plain")]
    [InlineData("text/plain; charset=utf-8")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("multipart/form-data; boundary=x")]
    [InlineData("not a media type")]
    public async Task Read_ContentTypeOtherThanJson_Is415NamingIt(string contentType)
    {
        var ex = await Assert.ThrowsAsync<BadHttpRequestException>(() =>
            _reader.Read(Request(Encoding.UTF8.GetBytes("""{"model":"m","prompt":"x"}"""), "", contentType: contentType), OpenAiKind.Completion, Tenant));

        Assert.Equal(StatusCodes.Status415UnsupportedMediaType, ex.StatusCode);
        Assert.Equal($"Content-Type '{contentType}' is not supported: send the body as JSON with 'Content-Type: application/json'", ex.Message);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("application/json")]
    [InlineData("Application/JSON; charset=utf-8")]
    [InlineData("application/merge-patch+json")]
    public async Task Read_JsonContentTypeOrNone_IsRead(string? contentType) =>
        Assert.Equal("x", (await _reader.Read(Request(Encoding.UTF8.GetBytes("""{"model":"m","prompt":"x"}"""), "", contentType: contentType), OpenAiKind.Completion, Tenant)).Submit.Prompt);

    [Fact]
    public async Task Read_GzipBodyInAnotherCharset_IsDecompressedThenDecodedFromIt_WithinTheSizeLimit()
    {
        // UTF-16 text, gzip-compressed: decompressed, then decoded from the charset its Content-Type names.
        var json = """{"model":"m","prompt":"café ☕"}""";
        var body = Encode(json, "gzip", Encoding.Unicode);

        var request = await _reader.Read(Request(body, "gzip", contentType: "application/json; charset=utf-16"), OpenAiKind.Completion, Tenant);
        var ex = await Assert.ThrowsAsync<BadHttpRequestException>(() =>
            _reader.Read(Request(body, "gzip", limit: 20, contentType: "application/json; charset=utf-16"), OpenAiKind.Completion, Tenant));

        Assert.Equal("café ☕", request.Submit.Prompt);
        Assert.Equal(StatusCodes.Status413PayloadTooLarge, ex.StatusCode);
    }

    private static HttpRequest Request(byte[] body, string encoding, long? limit = null, string? contentType = null)
    {
        var http = new DefaultHttpContext();
        http.Request.Body = new MemoryStream(body);
        http.Request.ContentType = contentType;
        http.Request.Headers.ContentEncoding = encoding;
        http.Features.Set<IHttpMaxRequestBodySizeFeature>(new BodySizeLimit { MaxRequestBodySize = limit });
        return http.Request;
    }

    private static byte[] Encode(string json, string encoding, Encoding? charset = null)
    {
        using var encoded = new MemoryStream();
        using (Stream encoder = encoding.ToLowerInvariant() switch
        {
            "gzip" => new GZipStream(encoded, CompressionLevel.Optimal),
            "deflate" => new ZLibStream(encoded, CompressionLevel.Optimal),
            _ => new BrotliStream(encoded, CompressionLevel.Optimal),
        })
        {
            encoder.Write((charset ?? Encoding.UTF8).GetBytes(json));
        }

        return encoded.ToArray();
    }

    private sealed class BodySizeLimit : IHttpMaxRequestBodySizeFeature
    {
        public bool IsReadOnly => false;

        public long? MaxRequestBodySize { get; set; }
    }
}
