using System.IO.Compression;
using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Compression;
using Scheduler.Protos.V1;
using Scheduler.Tests.EndToEnd;

namespace Scheduler.Tests.Silo.Api;

/// <summary>Compressed gRPC requests, from a .NET client over real HTTP/2 to the live silo: one whose bytes are not of
/// the encoding it names, and ones that are.</summary>
[Collection(SchedulerClusterCollection.Name)]
public sealed class StrictDecompressionProviderTests(SchedulerCluster cluster)
{
    private const string EncodingHeader = "grpc-internal-encoding-request";

    [Fact]
    public async Task SubmitJob_RawDeflateSentAsGzip_IsInvalidArgumentNamingTheRequest_NotUnknown()
    {
        // Was UNKNOWN "Exception was thrown by handler", with the decoder's stack trace logged as an error each time.
        using var channel = Channel(new DeflateSentAsGzip());

        var ex = await Assert.ThrowsAsync<RpcException>(() => Submit(channel, "gzip"));

        Assert.Equal(
            (StatusCode.InvalidArgument, "request: is not valid gzip data, as its grpc-encoding says it is"),
            (ex.StatusCode, ex.Status.Detail));
    }

    [Theory]
    [InlineData("gzip")]
    [InlineData("deflate")]
    public async Task SubmitJob_CompressedAsItSays_IsAccepted(string encoding)
    {
        using var channel = Channel(new GzipCompressionProvider(CompressionLevel.Fastest), new DeflateCompressionProvider(CompressionLevel.Fastest));

        var job = await Submit(channel, encoding);

        Assert.StartsWith("job-", job.JobId, StringComparison.Ordinal);
    }

    private GrpcChannel Channel(params ICompressionProvider[] providers) =>
        GrpcChannel.ForAddress(cluster.Address, new GrpcChannelOptions { CompressionProviders = providers });

    private static async Task<Job> Submit(GrpcChannel channel, string encoding)
    {
        var client = new InferenceService.InferenceServiceClient(channel);
        var headers = new Metadata { { "authorization", "Bearer " + SchedulerCluster.Tenants[0].Key }, { EncodingHeader, encoding } };
        return await client.SubmitJobAsync(
            new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "compressed", MaxTokens = 2 }, headers, DateTime.UtcNow.AddSeconds(30));
    }

    /// <summary>A client's bug: deflate's bytes under gzip's name (no gzip header).</summary>
    private sealed class DeflateSentAsGzip : ICompressionProvider
    {
        public string EncodingName => "gzip";

        public Stream CreateCompressionStream(Stream stream, CompressionLevel? compressionLevel) =>
            new DeflateStream(stream, CompressionLevel.Fastest, leaveOpen: true);

        public Stream CreateDecompressionStream(Stream stream) => new DeflateStream(stream, CompressionMode.Decompress, leaveOpen: true);
    }
}
