using Microsoft.Extensions.Options;
using Scheduler.Silo.Api;
using Scheduler.Silo.Hosting;
using Scheduler.Silo.Nodes;
using Scheduler.Tests.Silo.Api;

namespace Scheduler.Tests.Silo.Hosting;

public sealed class TenantSeedingOptionsValidatorTests
{
    [Fact]
    public void Validate_AcceptsTheShippedSeeds()
    {
        var seeds = Seeds(new() { Id = "dev", ApiKey = "dev-key" }, new() { Id = "team-b", ApiKey = "team-b-key", Weight = 3, MaxQueuedJobs = 10 }, new() { Id = "keyless" });

        Assert.True(Validator().Validate(null, seeds).Succeeded);
    }

    [Theory]
    [MemberData(nameof(IdentifiersTests.BadNewIds), MemberType = typeof(IdentifiersTests))]
    public void Validate_AnIdTheAdminApiWouldRefuse_IsRefusedInTheApisWords(string id, string apiDetail)
    {
        // The API's refusal of the same id as tenant_id (IdentifiersTests; PutTenantTests over gRPC): the seeding check
        // worded the rule itself, "1 to 128 characters", where the API said "at most" and "is required".
        var problem = apiDetail["tenant_id: ".Length..];

        var result = Validator().Validate(null, Seeds(new TenantSeedOptions { Id = id }));

        Assert.Equal(id.Length == 0 ? $"Scheduler:Tenants:0:Id {problem}" : $"Scheduler:Tenants:0:Id {problem}, not '{id}'", result.FailureMessage);
    }

    [Theory]
    [InlineData("dev", 0, 0, "Scheduler:Tenants:0:Weight must be a number from 0.001 to 1000, not 0")]
    [InlineData("dev", double.NaN, 0, "Scheduler:Tenants:0:Weight must be a number from 0.001 to 1000, not NaN")]
    [InlineData("dev", 1, -1, "Scheduler:Tenants:0:MaxQueuedJobs must not be negative")]
    public void Validate_RefusesASeedTheAdminApiWouldRefuse_NamingTheKey(string id, double weight, int maxQueued, string refusal)
    {
        var result = Validator().Validate(null, Seeds(new TenantSeedOptions { Id = id, Weight = weight, MaxQueuedJobs = maxQueued }));

        Assert.True(result.Failed);
        Assert.StartsWith(refusal, result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_RefusesAKeyTwoTenantsShare()
    {
        var result = Validator().Validate(null, Seeds(new() { Id = "dev", ApiKey = "shared-key" }, new() { Id = "team-b", ApiKey = "shared-key" }));

        Assert.Equal("Scheduler:Tenants:1:ApiKey is also tenant 'dev's key; each tenant needs a key of its own", result.FailureMessage);
    }

    [Theory]
    [InlineData("the-admin-key")]
    [InlineData("another-admin-key")]
    [InlineData("the-node-token")]
    public void Validate_RefusesAnAdminKeyOrTheNodeTokenAsATenantsKey(string key)
    {
        var result = Validator().Validate(null, Seeds(new TenantSeedOptions { Id = "dev", ApiKey = key }));

        Assert.Equal("Scheduler:Tenants:0:ApiKey is an admin key or the node token; a tenant's key must be its own", result.FailureMessage);
    }

    [Theory]
    [InlineData(" dev-key")]
    [InlineData("dev key")]
    [InlineData("dev-key-\u00e9")]
    public void Validate_RefusesAKeyNoClientCanSend(string key)
    {
        var result = Validator().Validate(null, Seeds(new TenantSeedOptions { Id = "dev", ApiKey = key }));

        Assert.Equal(
            "Scheduler:Tenants:0:ApiKey must be visible ASCII characters without spaces (a client sends it in an 'authorization: Bearer' header)",
            result.FailureMessage);
    }

    private static TenantSeedingOptionsValidator Validator() =>
        new(Options.Create(new ApiOptions { AdminApiKey = "the-admin-key", AdminApiKeys = ["another-admin-key"] }), Options.Create(new NodeOptions { NodeToken = "the-node-token" }));

    private static TenantSeedingOptions Seeds(params TenantSeedOptions[] seeds) => new() { Tenants = [.. seeds] };
}
