using System.IO.Compression;
using Grpc.Net.Compression;

namespace Scheduler.Silo.Api;

/// <summary>
/// A gRPC compression provider (gzip, deflate) whose decompression answers a request message that is not of its
/// encoding — a client sending raw deflate, or anything else, as gzip — with INVALID_ARGUMENT naming the request, as
/// <see cref="StrictParsingMethodProvider{TService}"/> answers a message that does not parse. grpc-dotnet decompresses
/// before any interceptor or marshaller runs, and let the decoder's exception through: UNKNOWN "Exception was thrown by
/// handler", and an error with its stack trace logged for every such call.
/// </summary>
internal sealed class StrictDecompressionProvider(ICompressionProvider inner) : ICompressionProvider
{
    /// <summary>What the silo decodes: grpc-dotnet's own defaults, each made strict.</summary>
    public static IList<ICompressionProvider> Defaults() =>
        [new StrictDecompressionProvider(new GzipCompressionProvider(CompressionLevel.Fastest)),
         new StrictDecompressionProvider(new DeflateCompressionProvider(CompressionLevel.Fastest))];

    public string EncodingName => inner.EncodingName;

    public Stream CreateCompressionStream(Stream stream, CompressionLevel? compressionLevel) =>
        inner.CreateCompressionStream(stream, compressionLevel);

    public Stream CreateDecompressionStream(Stream stream) => new Decoding(inner.CreateDecompressionStream(stream), EncodingName);

    /// <summary>The decoder's stream, read only, with its refusal of the bytes made the caller's error.</summary>
    private sealed class Decoding(Stream decoder, string encoding) : ReadOnlyWrapperStream(decoder)
    {
        public override int Read(Span<byte> buffer)
        {
            try
            {
                return Inner.Read(buffer);
            }
            catch (InvalidDataException)
            {
                throw Refusal();
            }
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            try
            {
                return await Inner.ReadAsync(buffer, cancellationToken);
            }
            catch (InvalidDataException)
            {
                throw Refusal();
            }
        }

        private Grpc.Core.RpcException Refusal() =>
            SchedulerErrors.InvalidArgument("request", $"is not valid {encoding} data, as its grpc-encoding says it is");
    }
}
