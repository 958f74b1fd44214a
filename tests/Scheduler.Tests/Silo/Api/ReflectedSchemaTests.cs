using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
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

    [Fact]
    public async Task ListServices_NamesEveryServiceTheSiloMaps_AndEachResolves()
    {
        // ReflectedSchema lists the services itself (grpc-dotnet's discovery has no room for more files): one the silo
        // maps and the list forgets would be one grpcurl cannot see.
        var mapped = silo.Services.GetRequiredService<EndpointDataSource>().Endpoints
            .Select(e => e.Metadata.GetMetadata<GrpcMethodMetadata>()?.Method.ServiceName)
            .OfType<string>().Where(name => name.Length > 0).Distinct().Order(StringComparer.Ordinal).ToList();
        using var call = new V1.ServerReflection.ServerReflectionClient(silo.Channel).ServerReflectionInfo(deadline: DateTime.UtcNow.AddSeconds(20));
        await call.RequestStream.WriteAsync(new V1.ServerReflectionRequest { ListServices = "" });
        await call.RequestStream.CompleteAsync();
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        var listed = call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).Order(StringComparer.Ordinal).ToList();

        Assert.Equal(mapped, listed);
        foreach (var service in listed)
        {
            Assert.Contains(Describe(await ResolveV1(service)), file => file.Services.Any(s => s.FullName == service));
        }
    }

    /// <summary>The message <paramref name="type"/> in the files a reflection answer served, built as a client builds
    /// them: every import must be among them, or the build fails.</summary>
    private static MessageDescriptor Describe(IReadOnlyList<ByteString> files, string type) =>
        Describe(files).SelectMany(f => f.MessageTypes).Single(m => m.FullName == type);

    private static IReadOnlyList<FileDescriptor> Describe(IReadOnlyList<ByteString> files) => FileDescriptor.BuildFromByteStrings(files);

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

            return InImportOrder(files);
        }
    }

    /// <summary><paramref name="files"/> each after its imports, as a build wants them (the answer lists the file asked
    /// for first); every import must be among them.</summary>
    private static List<ByteString> InImportOrder(IEnumerable<ByteString> files)
    {
        var pending = files.Select(f => (Bytes: f, Proto: FileDescriptorProto.Parser.ParseFrom(f))).ToList();
        var placed = new List<ByteString>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        while (pending.Count > 0)
        {
            var next = pending.FirstOrDefault(f => f.Proto.Dependency.All(names.Contains));
            Assert.True(next.Proto is not null, $"imports not served: {string.Join(", ", pending.SelectMany(f => f.Proto.Dependency).Where(d => !names.Contains(d)))}");
            placed.Add(next.Bytes);
            names.Add(next.Proto.Name);
            pending.Remove(next);
        }

        return placed;
    }
}
