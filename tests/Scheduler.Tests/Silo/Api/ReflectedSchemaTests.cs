using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Scheduler.Protos.V1;
using V1 = Grpc.Reflection.V1;
using V1Alpha = Grpc.Reflection.V1Alpha;

namespace Scheduler.Tests.Silo.Api;

/// <summary>Server reflection, asked over real gRPC as grpcurl, Postman and evans ask it, describes the types of the rich
/// error details the silo's refusals carry (grpc-status-details-bin): before, it served only the services' files, which
/// import none of them, so a reflection-driven client could not decode a refusal's details.</summary>
public sealed class ReflectedSchemaTests(SecuredSilo silo) : IClassFixture<SecuredSilo>
{
    /// <summary>google.rpc.Status, the trailer's message, and every detail type SchedulerErrors packs in it.</summary>
    public static TheoryData<string> ErrorTypes() =>
        ["google.rpc.Status", "google.rpc.ErrorInfo", "google.rpc.BadRequest", "google.rpc.ResourceInfo", "google.rpc.PreconditionFailure", "google.rpc.RetryInfo"];

    [Theory]
    [MemberData(nameof(ErrorTypes))]
    public async Task FileContainingSymbol_AnErrorType_IsServedWithItsImports_ByReflectionV1AndV1Alpha(string type)
    {
        foreach (var files in new[] { await ResolveV1(type), await ResolveV1Alpha(type) })
        {
            Assert.Equal(type, Describe(files, type).FullName);
        }
    }

    [Fact]
    public async Task EveryDetailOfRealRefusals_ResolvesByItsTypeUrl()
    {
        var inference = new InferenceService.InferenceServiceClient(silo.Channel);
        var key = new Metadata { { "authorization", $"Bearer {SecuredSilo.ConfiguredKey}" } };
        using var admin = silo.Admin();
        await admin.PutTenantAsync(new PutTenantRequest { TenantId = "reflected-owner", Weight = 1, ApiKey = "reflected-owner-secret" });
        var refusals = new[]
        {
            await Assert.ThrowsAsync<RpcException>(() => inference.GetJobAsync(new GetJobRequest { JobId = "" }, key).ResponseAsync),
            await Assert.ThrowsAsync<RpcException>(() => inference.GetJobAsync(new GetJobRequest { JobId = "job-x" }, key).ResponseAsync),
            await Assert.ThrowsAsync<RpcException>(() =>
                admin.PutTenantAsync(new PutTenantRequest { TenantId = "reflected-taker", Weight = 1, ApiKey = "reflected-owner-secret" })),
        };

        var types = refusals.SelectMany(r => r.GetRpcStatus()!.Details).Select(any => Any.GetTypeName(any.TypeUrl)).Distinct().ToList();
        Assert.Equal(["google.rpc.BadRequest", "google.rpc.ResourceInfo", "google.rpc.ErrorInfo"], types);
        foreach (var type in types)
        {
            Assert.Equal(type, Describe(await ResolveV1(type), type).FullName);
        }
    }

    /// <summary>The message <paramref name="type"/> in the files a reflection answer served, built as a client builds
    /// them: every import must be among them, or the build fails.</summary>
    private static MessageDescriptor Describe(IReadOnlyList<ByteString> files, string type)
    {
        var built = FileDescriptor.BuildFromByteStrings(files);
        return built.SelectMany(f => f.MessageTypes).Single(m => m.FullName == type);
    }

    private Task<IReadOnlyList<ByteString>> ResolveV1(string symbol) => Resolve(
        new V1.ServerReflection.ServerReflectionClient(silo.Channel).ServerReflectionInfo(deadline: DateTime.UtcNow.AddSeconds(20)),
        new V1.ServerReflectionRequest { FileContainingSymbol = symbol },
        answer => (answer.FileDescriptorResponse?.FileDescriptorProto, answer.ErrorResponse?.ErrorMessage));

    private Task<IReadOnlyList<ByteString>> ResolveV1Alpha(string symbol) => Resolve(
        new V1Alpha.ServerReflection.ServerReflectionClient(silo.Channel).ServerReflectionInfo(deadline: DateTime.UtcNow.AddSeconds(20)),
        new V1Alpha.ServerReflectionRequest { FileContainingSymbol = symbol },
        answer => (answer.FileDescriptorResponse?.FileDescriptorProto, answer.ErrorResponse?.ErrorMessage));

    /// <summary>The files one reflection request was answered with (the two versions' messages are alike, not one type).</summary>
    private static async Task<IReadOnlyList<ByteString>> Resolve<TRequest, TResponse>(
        AsyncDuplexStreamingCall<TRequest, TResponse> call, TRequest request, Func<TResponse, (IEnumerable<ByteString>? Files, string? Error)> read)
    {
        using (call)
        {
            await call.RequestStream.WriteAsync(request);
            await call.RequestStream.CompleteAsync();
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
            var (files, error) = read(call.ResponseStream.Current);
            Assert.True(files is not null, $"{request}: {error}");

            // The answer lists the file first and then its imports; a build wants each file after its imports.
            return [.. files.Reverse()];
        }
    }
}
