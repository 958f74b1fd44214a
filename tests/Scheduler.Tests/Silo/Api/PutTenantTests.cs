using Grpc.Core;
using Scheduler.Protos.V1;

namespace Scheduler.Tests.Silo.Api;

/// <summary>AdminService.PutTenant over real gRPC: what a tenant's weight may be.</summary>
public sealed class PutTenantTests(SecuredSilo silo) : IClassFixture<SecuredSilo>
{
    [Theory]
    [InlineData(-1)]
    [InlineData(0.0009)]
    [InlineData(1000.5)]
    [InlineData(1e300)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public async Task PutTenant_WeightOutOfRange_NamesTheFieldAndTheRange(double weight)
    {
        using var admin = silo.Admin();
        var e = await Assert.ThrowsAsync<RpcException>(() => admin.PutTenantAsync(new PutTenantRequest { TenantId = "weighty", Weight = weight }));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Equal("weight: must be a number from 0.001 to 1000 (or 0 for the default, 1)", e.Status.Detail);
    }

    [Theory]
    [InlineData(0.001)]
    [InlineData(1000)]
    public async Task PutTenant_WeightAtTheEndsOfItsRange_IsKept(double weight)
    {
        using var admin = silo.Admin();
        Assert.Equal(weight, (await admin.PutTenantAsync(new PutTenantRequest { TenantId = "weighty-ok", Weight = weight })).Weight);
    }
}
