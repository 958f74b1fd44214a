using System.Globalization;
using Grpc.Core;
using Scheduler.Protos.V1;

namespace Scheduler.Tests.Silo.Api;

/// <summary>What each kind of credential gets from each service, over real gRPC: a valid key of the wrong kind is
/// PERMISSION_DENIED (the caller holds a real credential, the wrong one), a key that is nobody's UNAUTHENTICATED, and an
/// authorization that is not a bearer key is told so.</summary>
public sealed class AuthInterceptorTests(SecuredSilo silo) : IClassFixture<SecuredSilo>
{
    [Theory]
    [InlineData(SecuredSilo.ExtraAdminKey)]
    [InlineData(SecuredSilo.NodeToken)]
    public async Task InferenceService_WithAnAdminKeyOrTheNodeToken_IsPermissionDenied(string key)
    {
        var e = await Assert.ThrowsAsync<RpcException>(() => GetJob(silo, $"Bearer {key}"));

        Assert.Equal(
            (StatusCode.PermissionDenied, "InferenceService needs a tenant's API key, not an admin key or the node token"),
            (e.StatusCode, e.Status.Detail));
    }

    [Theory]
    [InlineData(SecuredSilo.ConfiguredKey)]
    [InlineData(SecuredSilo.ExtraAdminKey)]
    public async Task NodeRegistryService_WithATenantOrAdminKey_IsPermissionDenied(string key)
    {
        var registry = new NodeRegistryService.NodeRegistryServiceClient(silo.Channel);
        var e = await Assert.ThrowsAsync<RpcException>(() => registry.HeartbeatAsync(
            new HeartbeatRequest { NodeId = "node-x" }, new Metadata { { "authorization", $"Bearer {key}" } }).ResponseAsync);

        Assert.Equal((StatusCode.PermissionDenied, "NodeRegistryService needs the node token"), (e.StatusCode, e.Status.Detail));
    }

    [Theory]
    [InlineData("Bearer nobodys-key", "invalid API key")]
    [InlineData(null, "missing 'authorization: Bearer <api-key>' metadata")]
    public async Task InferenceService_WithNoValidKey_IsUnauthenticated(string? authorization, string detail)
    {
        var e = await Assert.ThrowsAsync<RpcException>(() => GetJob(silo, authorization));

        Assert.Equal((StatusCode.Unauthenticated, detail), (e.StatusCode, e.Status.Detail));
    }

    [Theory]
    [InlineData(SecuredSilo.ConfiguredKey)]
    [InlineData("Basic YWNtZTprZXk=")]
    [InlineData("Bearer")]
    [InlineData("Bearer    ")]
    public async Task AnAuthorizationThatIsNoBearerKey_IsUnauthenticated_SayingWhatIsExpected(string authorization)
    {
        var e = await Assert.ThrowsAsync<RpcException>(() => GetJob(silo, authorization));

        Assert.Equal((StatusCode.Unauthenticated, "malformed 'authorization' metadata: expected 'Bearer <api-key>'"), (e.StatusCode, e.Status.Detail));
    }

    [Fact]
    public async Task AKeyOfTheWrongKind_IsNoFailedAuthentication_ThatWouldBlockItsAddress()
    {
        await RefusedFourTimes_ThenNotBlocked(async guarded =>
        {
            // An operator's tool calling the tenants' service with its admin key, over and over.
            var e = await Assert.ThrowsAsync<RpcException>(() => GetJob(guarded, $"Bearer {SecuredSilo.ExtraAdminKey}"));
            Assert.Equal(StatusCode.PermissionDenied, e.StatusCode);
        });
    }

    /// <summary>Makes <paramref name="refused"/>'s call four times on a silo that blocks an address after two failed
    /// authentications, then checks a tenant's key this silo never checked still passes from that address: nothing was
    /// counted against it.</summary>
    private static async Task RefusedFourTimes_ThenNotBlocked(Func<SecuredSilo, Task> refused)
    {
        var guarded = new SecuredSilo(["--Scheduler:AuthFailureLimit=2", "--Scheduler:AuthFailureWindowSeconds=60"]);
        await guarded.InitializeAsync();
        try
        {
            for (var i = 0; i < 4; i++)
            {
                await refused(guarded);
            }

            using var admin = guarded.Admin();
            using var tenant = guarded.Client((await admin.CreateApiKeyAsync(SecuredSilo.Tenant)).Secret);
            Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(() => tenant.GetAsync("job-x"))).StatusCode);
        }
        finally
        {
            await guarded.DisposeAsync();
        }
    }

    [Fact]
    public async Task AnAuthorizationSentTwice_IsUnauthenticated_SayingSo_AndIsNoFailedAuthentication()
    {
        await RefusedFourTimes_ThenNotBlocked(async guarded =>
        {
            // A client whose interceptor adds the key its caller had already set: grpc-dotnet joined the two into one
            // value, which was "invalid API key" and counted as a guess, until the address was blocked.
            var e = await Assert.ThrowsAsync<RpcException>(() => GetJob(guarded, $"Bearer {SecuredSilo.ConfiguredKey}", $"Bearer {SecuredSilo.ConfiguredKey}"));
            Assert.Equal(
                (StatusCode.Unauthenticated, "'authorization' metadata must be sent once, got 2 values: send one 'authorization: Bearer <api-key>'"),
                (e.StatusCode, e.Status.Detail));
        });
    }

    [Fact]
    public async Task AnAuthorizationSentAsTwoHeaderFields_IsUnauthenticated_SayingSo()
    {
        // As grpcurl sends two -H options: each its own HTTP/2 field, which grpc-dotnet joined into "Bearer k,Bearer k".
        var path = $"/{InferenceService.Descriptor.FullName}/GetJob";
        var key = ("authorization", $"Bearer {SecuredSilo.ConfiguredKey}");
        var once = await RawGrpcCall.Unary(silo.Address, path, new GetJobRequest { JobId = "job-x" }, [key]);
        var twice = await RawGrpcCall.Unary(silo.Address, path, new GetJobRequest { JobId = "job-x" }, [key, key]);

        Assert.Equal(((int)StatusCode.NotFound).ToString(CultureInfo.InvariantCulture), Field(once, "grpc-status"));
        Assert.Equal(
            (((int)StatusCode.Unauthenticated).ToString(CultureInfo.InvariantCulture),
                "'authorization' metadata must be sent once, got 2 values: send one 'authorization: Bearer <api-key>'"),
            (Field(twice, "grpc-status"), Uri.UnescapeDataString(Field(twice, "grpc-message"))));
    }

    private static string Field(IReadOnlyList<(string Name, string Value)> fields, string name) => fields.Single(f => f.Name == name).Value;

    /// <summary>GetJob through the raw generated client, with the authorization metadata exactly as given (or none).
    /// Given twice, HttpClient sends them as one HTTP/2 header field joined with a comma.</summary>
    private static Task<Job> GetJob(SecuredSilo silo, params string?[] authorizations)
    {
        var metadata = new Metadata();
        foreach (var authorization in authorizations.OfType<string>())
        {
            metadata.Add("authorization", authorization);
        }

        return new InferenceService.InferenceServiceClient(silo.Channel).GetJobAsync(new GetJobRequest { JobId = "job-x" }, metadata).ResponseAsync;
    }
}
