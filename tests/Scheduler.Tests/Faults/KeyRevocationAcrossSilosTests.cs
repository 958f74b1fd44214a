using System.Diagnostics;
using Grpc.Core;
using Scheduler.Client;

namespace Scheduler.Tests.Faults;

/// <summary>A key revoked through one silo stops working on another within that silo's key cache time.</summary>
public sealed class KeyRevocationAcrossSilosTests
{
    private const string AdminKey = "two-silo-admin-key";
    private const int KeyCacheSeconds = 2;

    [Fact]
    public async Task RevokeApiKey_ThroughOneSilo_StopsOnTheOtherWithinTheCacheTime()
    {
        await using var redis = await RedisServer.StartAsync();
        var clusterId = "keys-" + Guid.NewGuid().ToString("N")[..8];
        string[] args =
        [
            "--Scheduler:Clustering=redis", $"--Scheduler:Redis={redis.Endpoint}",
            $"--Scheduler:ClusterId={clusterId}", $"--Scheduler:ServiceId={clusterId}",
            $"--Scheduler:AdminApiKey={AdminKey}", $"--Scheduler:ApiKeyCacheSeconds={KeyCacheSeconds}",
            "--Scheduler:Tenants:0:Id=two-silo-tenant", "--Scheduler:Tenants:0:ApiKey=two-silo-configured-key",
            "--Logging:LogLevel:Default=Warning",
        ];
        await using var first = SiloProcess.Start(0, args);
        await FaultCluster.WaitServing(first, FaultCluster.StartTimeout);
        await using var second = SiloProcess.Start(1, args);
        await FaultCluster.WaitServing(second, FaultCluster.StartTimeout);

        using var admin = new SchedulerAdminClient(first.Address, AdminKey);
        var key = await admin.CreateApiKeyAsync("two-silo-tenant");
        using var onFirst = new SchedulerClient(first.Address, key.Secret);
        using var onSecond = new SchedulerClient(second.Address, key.Secret);
        Assert.Equal(StatusCode.NotFound, await Status(onSecond)); // checked, and now cached, on the second silo
        Assert.Equal(StatusCode.NotFound, await Status(onFirst));

        var revokedAt = Stopwatch.StartNew();
        await admin.RevokeApiKeyAsync("two-silo-tenant", key.Key.KeyId);

        // The revoking silo forgets it at once; the other trusts its cache for at most KeyCacheSeconds.
        Assert.Equal(StatusCode.Unauthenticated, await Status(onFirst));
        await Polling.Until(async () => await Status(onSecond) == StatusCode.Unauthenticated, "the second silo refuses the key",
            TimeSpan.FromSeconds(KeyCacheSeconds + 5), TimeSpan.FromMilliseconds(100));
        Assert.InRange(revokedAt.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(KeyCacheSeconds + 1));

        // The tenant's other key was never touched.
        using var configured = new SchedulerClient(second.Address, "two-silo-configured-key");
        Assert.Equal(StatusCode.NotFound, await Status(configured));
    }

    // A call that passes authentication answers NOT_FOUND for a job that does not exist.
    private static async Task<StatusCode> Status(SchedulerClient client) =>
        (await Assert.ThrowsAsync<RpcException>(() => client.GetAsync("no-such-job"))).StatusCode;
}
