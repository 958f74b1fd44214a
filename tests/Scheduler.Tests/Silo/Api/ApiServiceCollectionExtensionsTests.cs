using Grpc.Core;
using Grpc.Health.V1;
using Scheduler.Protos.V1;

namespace Scheduler.Tests.Silo.Api;

/// <summary>The gRPC health service of a real silo, as clients in any language ask it: for the whole server, and for a
/// service by its name (gRPC's client-side health checking asks for the service it calls).</summary>
public sealed class ApiServiceCollectionExtensionsTests(SecuredSilo silo) : IClassFixture<SecuredSilo>
{
    public static TheoryData<string> Services =>
        ["", InferenceService.Descriptor.FullName, AdminService.Descriptor.FullName, NodeRegistryService.Descriptor.FullName];

    [Theory]
    [MemberData(nameof(Services))]
    public async Task HealthCheck_OfTheServerAndOfEachService_IsServing(string service)
    {
        var health = new Health.HealthClient(silo.Channel);

        var check = await health.CheckAsync(new HealthCheckRequest { Service = service });

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, check.Status);
    }

    [Theory]
    [MemberData(nameof(Services))]
    public async Task HealthWatch_OfTheServerAndOfEachService_StartsServing(string service)
    {
        using var watch = new Health.HealthClient(silo.Channel).Watch(new HealthCheckRequest { Service = service }, deadline: DateTime.UtcNow.AddSeconds(10));

        Assert.True(await watch.ResponseStream.MoveNext());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, watch.ResponseStream.Current.Status);
    }

    [Fact]
    public async Task HealthCheck_OfAServiceTheSiloDoesNotServe_IsNotFound()
    {
        var health = new Health.HealthClient(silo.Channel);

        var e = await Assert.ThrowsAsync<RpcException>(() => health.CheckAsync(new HealthCheckRequest { Service = "scheduler.v1.NoSuchService" }).ResponseAsync);

        Assert.Equal(StatusCode.NotFound, e.StatusCode);
    }
}
