using System.Net;
using System.Net.Http.Headers;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using Grpc.Reflection.V1Alpha;
using Scheduler.Client;
using Scheduler.Protos.Tls;
using Scheduler.Protos.V1;

namespace Scheduler.Tests.EndToEnd;

/// <summary>TLS on the front door and on node links, over real loopback sockets with certificates made for the run.</summary>
public sealed class TlsTests(TlsCluster cluster) : IClassFixture<TlsCluster>
{
    [Fact]
    public async Task RunJob_ClientTrustsTheCa_CompletesThroughTlsFrontDoorAndTlsNodeLink()
    {
        Assert.StartsWith("https://", cluster.Address, StringComparison.Ordinal);
        using var client = new SchedulerClient(cluster.Address, TlsCluster.TenantKey, cluster.Certificates.CaPath);
        var request = new SubmitJobRequest { Model = TlsCluster.Model, MaxTokens = 12 };
        request.PromptTokenIds.AddRange(Enumerable.Range(1, 40));

        // The only node serves TLS, and this silo refuses cleartext nodes: tokens came over a TLS node link.
        var result = await client.RunAsync(request, deadline: DateTime.UtcNow.AddMinutes(1));

        Assert.True(result.Succeeded, $"{result.Status} {result.Error}");
        Assert.Equal(12, result.TokenCount);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Submit_ClientDoesNotTrustTheCa_FailsInTheTlsHandshake(bool trustAnotherCa)
    {
        using var client = new SchedulerClient(cluster.Address, TlsCluster.TenantKey, trustAnotherCa ? cluster.Certificates.OtherCaPath : null);

        var error = await Assert.ThrowsAsync<RpcException>(() =>
            client.SubmitAsync(new SubmitJobRequest { Model = TlsCluster.Model, Prompt = "hi", MaxTokens = 1 }, DateTime.UtcNow.AddSeconds(20)));

        // grpc-dotnet reports a handshake the client refused as INTERNAL (UNAVAILABLE is for transport failures);
        // the cause says why: the certificate did not validate.
        Assert.Equal(StatusCode.Internal, error.StatusCode);
        var causes = new List<Exception>();
        for (var cause = error.Status.DebugException; cause is not null; cause = cause.InnerException)
        {
            causes.Add(cause);
        }

        Assert.Contains(causes, cause => cause is AuthenticationException);
    }

    [Fact]
    public async Task RunJob_SilosCaAppendedToTheClientsBundleAfterARefusedHandshake_SameClientSucceeds()
    {
        // A long-lived client (a gateway) through a CA rotation: its bundle gains the CA the silo's certificate now chains to.
        var bundle = cluster.Certificates.Write($"client-bundle-{Guid.NewGuid():N}.crt", File.ReadAllText(cluster.Certificates.OtherCaPath));
        using var client = new SchedulerClient(cluster.Address, TlsCluster.TenantKey, bundle);
        var request = new SubmitJobRequest { Model = TlsCluster.Model, Prompt = "rotated", MaxTokens = 3 };
        var refused = await Assert.ThrowsAsync<RpcException>(() => client.RunAsync(request, deadline: DateTime.UtcNow.AddSeconds(20)));
        Assert.Equal(StatusCode.Internal, refused.StatusCode);

        await File.AppendAllTextAsync(bundle, "\n" + await File.ReadAllTextAsync(cluster.Certificates.CaPath));

        var result = await client.RunAsync(request, deadline: DateTime.UtcNow.AddMinutes(1));
        Assert.True(result.Succeeded, $"{result.Status} {result.Error}");
    }

    [Fact]
    public async Task RegisterNode_CleartextAddressWhileNodeLinksNeedTls_RefusedNamingTheAddress()
    {
        using var channel = SchedulerChannels.ForAddress(cluster.Address, TrustedCa.LoadOrNull(cluster.Certificates.CaPath, "ca"));
        var registry = new NodeRegistryService.NodeRegistryServiceClient(channel);
        var node = new NodeDescription { NodeId = "cleartext-node", Address = "http://127.0.0.1:1" };

        var error = await Assert.ThrowsAsync<RpcException>(() => registry.RegisterNodeAsync(
            new RegisterNodeRequest { Node = node }, new Metadata { { "authorization", "Bearer " + SchedulerCluster.NodeToken } }).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("node.address", error.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("https://", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OpenAiCompletion_ClientTrustsTheCa_CompletesOverHttps()
    {
        var ca = TrustedCa.LoadOrNull(cluster.Certificates.CaPath, "ca")!;
        using var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            certificate is X509Certificate2 leaf && ca.Validate(leaf, errors);
        using var http = new HttpClient(handler) { BaseAddress = new Uri(cluster.OpenAiAddress) };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = new StringContent($$"""{"model":"{{TlsCluster.Model}}","prompt":"hello over tls","max_tokens":4}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TlsCluster.TenantKey);

        using var response = await http.SendAsync(request);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        Assert.StartsWith("https://", cluster.OpenAiAddress, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(4, body.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task OpenAiCompletion_ClientDoesNotTrustTheCa_FailsInTheTlsHandshake()
    {
        using var http = new HttpClient { BaseAddress = new Uri(cluster.OpenAiAddress) };

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync(new Uri("/v1/models", UriKind.Relative)));

        Assert.IsType<AuthenticationException>(error.InnerException);
    }

    [Fact]
    public async Task ServerReflection_ListServices_NamesTheSchedulerServicesWithoutAKey()
    {
        using var channel = SchedulerChannels.ForAddress(cluster.Address, TrustedCa.LoadOrNull(cluster.Certificates.CaPath, "ca"));
        var reflection = new ServerReflection.ServerReflectionClient(channel);

        using var call = reflection.ServerReflectionInfo(deadline: DateTime.UtcNow.AddSeconds(20));
        await call.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" });
        await call.RequestStream.CompleteAsync();
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        var services = call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).ToList();

        Assert.Contains(InferenceService.Descriptor.FullName, services);
        Assert.Contains(AdminService.Descriptor.FullName, services);
        Assert.Contains(NodeRegistryService.Descriptor.FullName, services);
        Assert.Contains("grpc.health.v1.Health", services);
        Assert.Contains("grpc.reflection.v1.ServerReflection", services);
        Assert.Contains("grpc.reflection.v1alpha.ServerReflection", services);

        // And it describes them: what grpcurl needs to call a method without the .proto files.
        using var describe = reflection.ServerReflectionInfo(deadline: DateTime.UtcNow.AddSeconds(20));
        await describe.RequestStream.WriteAsync(new ServerReflectionRequest { FileContainingSymbol = InferenceService.Descriptor.FullName });
        await describe.RequestStream.CompleteAsync();
        Assert.True(await describe.ResponseStream.MoveNext(CancellationToken.None));
        Assert.NotEmpty(describe.ResponseStream.Current.FileDescriptorResponse.FileDescriptorProto);
    }
}
