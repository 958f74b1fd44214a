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
        var guarded = new SecuredSilo(["--Scheduler:AuthFailureLimit=2", "--Scheduler:AuthFailureWindowSeconds=60"]);
        await guarded.InitializeAsync();
        try
        {
            // An operator's tool calling the tenants' service with its admin key, over and over.
            for (var i = 0; i < 4; i++)
            {
                var e = await Assert.ThrowsAsync<RpcException>(() => GetJob(guarded, $"Bearer {SecuredSilo.ExtraAdminKey}"));
                Assert.Equal(StatusCode.PermissionDenied, e.StatusCode);
            }

            // A tenant's key this silo never checked still passes from that address: nothing was counted against it.
            using var admin = guarded.Admin();
            using var tenant = guarded.Client((await admin.CreateApiKeyAsync(SecuredSilo.Tenant)).Secret);
            Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(() => tenant.GetAsync("job-x"))).StatusCode);
        }
        finally
        {
            await guarded.DisposeAsync();
        }
    }

    /// <summary>GetJob through the raw generated client, with the authorization metadata exactly as given (or none).</summary>
    private static Task<Job> GetJob(SecuredSilo silo, string? authorization) => new InferenceService.InferenceServiceClient(silo.Channel)
        .GetJobAsync(new GetJobRequest { JobId = "job-x" }, authorization is null ? new Metadata() : new Metadata { { "authorization", authorization } })
        .ResponseAsync;
}
