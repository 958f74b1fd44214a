using System.Globalization;
using System.Text.RegularExpressions;
using Grpc.Core;
using Scheduler.Abstractions.Tenants;
using Scheduler.Client;
using Scheduler.Protos.V1;
using Scheduler.Silo.Hosting;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace Scheduler.Tests.Faults;

/// <summary>
/// Redis losing its data under running silos (a restart without persistence; here a FLUSHALL). Before: the silos lived
/// on with their old view of the cluster (Orleans' membership table was gone and never came back), silos started since
/// formed a second cluster in a new table, and the seeded tenant's key stayed unauthenticated after a rolling restart.
/// Now every silo exits (code 3) and, started again as Kubernetes would, they form one cluster with the seeded keys.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed partial class RedisDataLossTests(ITestOutputHelper output)
{
    private const string AdminKey = "loss-admin-key";
    private const string TenantId = "loss-tenant";
    private const string TenantKey = "loss-tenant-key";
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task RedisFlushedUnderRunningSilos_EverySiloExits_AndRestartedTheyFormOneClusterWithTheSeededKey()
    {
        await using var redis = await RedisServer.StartAsync();
        var id = "loss-" + Guid.NewGuid().ToString("N")[..8];
        var args = Args(id, redis, ("0", TenantId, TenantKey), "--Scheduler:Scheduling:TenantStateWriteInterval=00:00:01");
        await WithSilos(async silos =>
        {
            await StartOneAfterAnother(silos, args, first: 0, count: 3);
            await Polling.Until(async () => (await RingSizes(silos)).All(size => size == 3), "three silos in one cluster",
                TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(500));
            foreach (var silo in silos)
            {
                Assert.Equal(StatusCode.NotFound, await KeyStatus(silo, TenantKey));
            }

            // A queued job (no worker serves the model): the tenant's grain has changes to write, which the cluster from
            // before the loss would write back into the emptied store.
            using (var tenant = new SchedulerClient(silos[1].Address, TenantKey))
            {
                await tenant.SubmitAsync(new SubmitJobRequest { Model = FaultCluster.Model, Prompt = "queued when Redis loses it", MaxTokens = 4 },
                    DateTime.UtcNow.AddSeconds(30));
            }

            await using (var connection = await ConnectionMultiplexer.ConnectAsync($"{redis.Endpoint},allowAdmin=true"))
            {
                await connection.GetServer(redis.Endpoint).FlushAllDatabasesAsync();
            }

            var flushed = System.Diagnostics.Stopwatch.StartNew();

            // Each silo finds the loss within its check interval (2 s) and ends itself, without a graceful stop.
            foreach (var silo in silos)
            {
                await WaitForExit(silo, $"silo {silo.Index} to exit after the FLUSHALL");
                Assert.Equal(SchedulerHost.StoreLostExitCode, silo.ExitCode);
                Assert.Contains(silo.Output, line => line.StartsWith("silo stopped: Redis lost the scheduler's data", StringComparison.Ordinal));
                output.WriteLine($"silo {silo.Index} exited {silo.ExitCode} by {flushed.Elapsed.TotalSeconds:F1} s after the FLUSHALL");
            }

            // Started again, as their supervisor would: one cluster of three in the new store, the seeded key working
            // through each of them, and three active rows in the membership table.
            await StartOneAfterAnother(silos, args, first: 3, count: 3);
            var restarted = silos[3..];
            await Polling.Until(async () => (await RingSizes(restarted)).All(size => size == 3), "the restarted silos in one cluster of three",
                TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(500));
            output.WriteLine($"restarted silos in one cluster of three {flushed.Elapsed.TotalSeconds:F1} s after the FLUSHALL");
            foreach (var silo in restarted)
            {
                Assert.Equal(StatusCode.NotFound, await KeyStatus(silo, TenantKey));
            }

            await using var check = await ConnectionMultiplexer.ConnectAsync(redis.Endpoint);
            var rows = await check.GetDatabase().HashGetAllAsync($"{id}/members/{id}");
            Assert.Equal(3, rows.Count(r => r.Name != "Version" && ActiveRow().IsMatch(r.Value.ToString())));
            Assert.Equal(3, rows.Length - 1);
        });
    }

    [Fact]
    public async Task SeededTenantListingItsKeyWhoseRecordWasLost_SiloStarted_BindsItAgain_ButNotAKeyRevokedThroughTheAdminApi()
    {
        await using var redis = await RedisServer.StartAsync();
        var id = "seed-" + Guid.NewGuid().ToString("N")[..8];
        var args = Args(id, redis, ("0", TenantId, TenantKey), "--Scheduler:Tenants:1:Id=revoked-tenant", "--Scheduler:Tenants:1:ApiKey=revoked-tenant-key");
        await WithSilos(async silos =>
        {
            await StartOneAfterAnother(silos, args, first: 0, count: 1);
            Assert.Equal(StatusCode.NotFound, await KeyStatus(silos[0], TenantKey));
            using (var admin = new SchedulerAdminClient(silos[0].Address, AdminKey))
            {
                await admin.RevokeApiKeyAsync("revoked-tenant", ITenantGrain.ConfiguredKeyId);
            }

            silos[0].Terminate();
            await WaitForExit(silos[0], "silo 0 to stop");

            // What the loss left behind: the tenant's state, written back by a silo of the cluster from before, names
            // its configured key, whose own record is gone.
            await using (var connection = await ConnectionMultiplexer.ConnectAsync(redis.Endpoint))
            {
                Assert.True(await connection.GetDatabase().KeyDeleteAsync($"{id}/state/apikey/{ApiKeyHash.Of(TenantKey)}/apikey"));
            }

            await StartOneAfterAnother(silos, args, first: 1, count: 1);
            Assert.Equal(StatusCode.NotFound, await KeyStatus(silos[1], TenantKey));
            Assert.Contains(silos[1].Output, line => line.Contains($"Tenant '{TenantId}' lists its configured key", StringComparison.Ordinal));

            // The operator's revocation stands: the configured key is no longer the tenant's, so it is not bound again.
            Assert.Equal(StatusCode.Unauthenticated, await KeyStatus(silos[1], "revoked-tenant-key"));
            Assert.DoesNotContain(silos[1].Output, line => line.Contains("Tenant 'revoked-tenant' lists", StringComparison.Ordinal));
        });
    }

    /// <summary>Runs <paramref name="test"/> with a list it starts silos into; dumps their output if it fails, and stops
    /// them (by PID) in any case.</summary>
    private async Task WithSilos(Func<List<SiloProcess>, Task> test)
    {
        var silos = new List<SiloProcess>();
        try
        {
            await test(silos);
        }
        catch
        {
            Dump(silos);
            throw;
        }
        finally
        {
            foreach (var silo in silos)
            {
                await silo.DisposeAsync();
            }
        }
    }

    private static string[] Args(string id, RedisServer redis, (string Index, string Id, string Key) tenant, params string[] more) =>
    [
        "--Scheduler:Clustering=redis", $"--Scheduler:Redis={redis.Endpoint}",
        $"--Scheduler:ClusterId={id}", $"--Scheduler:ServiceId={id}",
        $"--Scheduler:AdminApiKey={AdminKey}",
        $"--Scheduler:Tenants:{tenant.Index}:Id={tenant.Id}", $"--Scheduler:Tenants:{tenant.Index}:ApiKey={tenant.Key}",
        // Orleans' errors after the loss (every membership read failing, with its stack) would fill the kept output.
        "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Orleans=Critical", "--Logging:LogLevel:Scheduler=Information",
        .. more,
    ];

    /// <summary>The first silo alone, so the cluster forms around it; then the others.</summary>
    private static async Task StartOneAfterAnother(List<SiloProcess> silos, string[] args, int first, int count)
    {
        silos.Add(SiloProcess.Start(first, args));
        await FaultCluster.WaitServing(silos[^1], FaultCluster.StartTimeout);
        var others = Enumerable.Range(first + 1, count - 1).Select(i => SiloProcess.Start(i, args)).ToList();
        silos.AddRange(others);
        foreach (var silo in others)
        {
            await FaultCluster.WaitServing(silo, FaultCluster.StartTimeout);
        }
    }

    private static async Task WaitForExit(SiloProcess silo, string what)
    {
        using var exit = new CancellationTokenSource(ExitTimeout);
        try
        {
            await silo.WaitForExitAsync(exit.Token);
        }
        catch (OperationCanceledException) when (exit.IsCancellationRequested)
        {
            Assert.Fail($"Timed out waiting for: {what} (still running after {ExitTimeout.TotalSeconds} s)");
        }
    }

    /// <summary>How many silos each silo's grain directory spans: its view of the cluster.</summary>
    private static async Task<int[]> RingSizes(IEnumerable<SiloProcess> silos)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        return await Task.WhenAll(silos.Select(async silo =>
        {
            var match = RingSize().Match(await http.GetStringAsync($"{silo.HttpAddress}/metrics"));
            return match.Success ? int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        }));
    }

    // A call that passes authentication answers NOT_FOUND for a job that does not exist; a key that resolves to no
    // tenant is UNAUTHENTICATED.
    private static async Task<StatusCode> KeyStatus(SiloProcess silo, string key)
    {
        using var client = new SchedulerClient(silo.Address, key);
        return (await Assert.ThrowsAsync<RpcException>(() => client.GetAsync("no-such-job", DateTime.UtcNow.AddSeconds(30)))).StatusCode;
    }

    private void Dump(IEnumerable<SiloProcess> silos)
    {
        foreach (var silo in silos)
        {
            output.WriteLine($"--- silo {silo.Index} (pid {silo.Pid}{(silo.HasExited ? $", exited {silo.ExitCode}" : "")}) ---");
            foreach (var line in silo.Output.TakeLast(60))
            {
                output.WriteLine(line);
            }
        }
    }

    [GeneratedRegex(@"^orleans_directory_ring_size\{[^}]*\} (\d+)", RegexOptions.Multiline)]
    private static partial Regex RingSize();

    // Orleans' SiloStatus.Active is 3.
    [GeneratedRegex(@"""Status"":3,")]
    private static partial Regex ActiveRow();
}
