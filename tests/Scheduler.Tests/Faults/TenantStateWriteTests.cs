using Grpc.Core;
using Scheduler.Client;
using Scheduler.Protos.V1;
using StackExchange.Redis;

namespace Scheduler.Tests.Faults;

/// <summary>
/// In Redis mode a tenant writes its state (unfinished jobs, usage) every <c>TenantStateWriteInterval</c> when it
/// changed, not per job: the write reaches Redis within the interval, and a silo killed after it comes back with the
/// tenant's counts. A kill skips the write on deactivation, so only the periodic write can carry them; an end that
/// came after the last write is recovered from the job's record when the tenant is restored.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class TenantStateWriteTests
{
    private const string AdminKey = "state-admin-key";
    private const string TenantId = "periodic-tenant";
    private const string TenantKey = "periodic-tenant-key";
    private const int Jobs = 5;
    private static readonly TimeSpan WriteInterval = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(150);

    [Fact]
    public async Task TenantState_ReachesRedisWithinTheWriteInterval_AndSurvivesASiloKill()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.Endpoint);
        var clusterId = "state-" + Guid.NewGuid().ToString("N")[..8];
        var args = SiloArgs(redis, clusterId, WriteInterval);
        await using var first = SiloProcess.Start(0, args);
        await FaultCluster.WaitServing(first, StartTimeout);

        // The seeded tenant's state is in Redis once seeding wrote it; its etag changes with every write.
        var stateKey = await TenantStateKey(connection, clusterId);
        var seeded = await connection.GetDatabase().HashGetAsync(stateKey, "etag");

        // No worker serves the model, so the jobs stay queued; accepting them writes nothing to the tenant's state.
        using (var tenant = new SchedulerClient(first.Address, TenantKey))
        {
            for (var i = 0; i < Jobs; i++)
            {
                await tenant.SubmitAsync(new SubmitJobRequest { Model = FaultCluster.Model, Prompt = $"kept {i}", MaxTokens = 8 });
            }
        }

        var accepted = DateTime.UtcNow;
        await Polling.Until(async () => await connection.GetDatabase().HashGetAsync(stateKey, "etag") != seeded,
            "the tenant's periodic state write", WriteInterval + TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(50));
        var written = DateTime.UtcNow - accepted;

        // On a slow machine that first write may have come while the jobs were still being accepted, holding only
        // some of them; the tenant writes again within the interval whenever its state changed since. So the kill
        // waits until the state has stopped changing for two intervals: then every acceptance has been written.
        await WaitUntilSettled(connection, stateKey);

        await using var second = await KillAndRestart(first, args);

        using var admin = new SchedulerAdminClient(second.Address, AdminKey);
        Tenant? restored = null;
        await Polling.Until(async () => (restored = await TryGetTenant(admin)) is not null,
            "the tenant answering on the restarted silo", StartTimeout, TimeSpan.FromMilliseconds(500));
        Assert.Equal(Jobs, restored!.Usage.JobsSubmitted);
        Assert.Equal(Jobs, restored.QueuedJobs);

        // Within the interval, with a margin for a loaded two-core machine's timer and Redis round trip.
        Assert.InRange(written, TimeSpan.Zero, WriteInterval + TimeSpan.FromSeconds(3));
    }

    [Fact]
    public async Task JobEndedAfterTheLastTenantWrite_SiloKilled_TheRestoredTenantCountsTheEndFromTheJobsRecord()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.Endpoint);
        var clusterId = "lostend-" + Guid.NewGuid().ToString("N")[..8];

        // No periodic write within the test: the tenant's state in Redis is exactly what the admin's update wrote.
        var args = SiloArgs(redis, clusterId, TimeSpan.FromHours(1));
        await using var first = SiloProcess.Start(0, args);
        await FaultCluster.WaitServing(first, StartTimeout);
        var stateKey = await TenantStateKey(connection, clusterId);

        // A job stays queued (no worker serves the model); an update of the tenant writes its state, job included.
        using var tenant = new SchedulerClient(first.Address, TenantKey);
        var job = await tenant.SubmitAsync(new SubmitJobRequest { Model = FaultCluster.Model, Prompt = "ends unwritten", MaxTokens = 8 });
        using (var admin = new SchedulerAdminClient(first.Address, AdminKey))
        {
            await admin.PutTenantAsync(new PutTenantRequest { TenantId = TenantId, Weight = 2 });
            Assert.Equal(1, (await admin.GetTenantAsync(TenantId)).QueuedJobs);
        }

        var written = await connection.GetDatabase().HashGetAsync(stateKey, "etag");

        // The job ends (its record is written) and the tenant counts the end in memory only; then the silo dies.
        Assert.Equal(JobStatus.Cancelled, (await tenant.CancelAsync(job.JobId)).Status);
        using (var admin = new SchedulerAdminClient(first.Address, AdminKey))
        {
            await Polling.Until(async () => (await admin.GetTenantAsync(TenantId)).QueuedJobs == 0,
                "the tenant counting the end", TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(50));
        }

        Assert.Equal(written, await connection.GetDatabase().HashGetAsync(stateKey, "etag"));

        // The restarted silo reads the job as queued from the tenant's state, asks its record, and ends it.
        await using var second = await KillAndRestart(first, args);
        using var restartedAdmin = new SchedulerAdminClient(second.Address, AdminKey);
        Tenant? restored = null;
        await Polling.Until(async () => (restored = await TryGetTenant(restartedAdmin)) is { QueuedJobs: 0 },
            "the restored tenant no longer counting the ended job", StartTimeout, TimeSpan.FromMilliseconds(500));
        Assert.Equal(0, restored!.RunningJobs);
        Assert.Equal(1, restored.Usage.JobsCancelled);
        Assert.Equal(1, restored.Usage.JobsSubmitted);
    }

    [Fact]
    public async Task JobsAcceptedAfterTheLastTenantWrite_SiloKilled_TheRestoredTenantCountsThem_AndTheEndsOfThoseThatEnded()
    {
        // Accepted (journaled, acknowledged) after the tenant's last state write, then the silo dies: the restored
        // tenant's state has neither the jobs nor their submissions, so its queue quota let as many more in.
        await using var redis = await RedisServer.StartAsync();
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.Endpoint);
        var clusterId = "unwritten-" + Guid.NewGuid().ToString("N")[..8];

        // No periodic write within the test: the tenant's state in Redis is exactly what the admin's update wrote.
        var args = SiloArgs(redis, clusterId, TimeSpan.FromHours(1));
        await using var first = SiloProcess.Start(0, args);
        await FaultCluster.WaitServing(first, StartTimeout);
        var stateKey = await TenantStateKey(connection, clusterId);
        using (var admin = new SchedulerAdminClient(first.Address, AdminKey))
        {
            await admin.PutTenantAsync(new PutTenantRequest { TenantId = TenantId, Weight = 2 });
        }

        var written = await connection.GetDatabase().HashGetAsync(stateKey, "etag");

        // Three jobs stay queued (no worker serves the model); one of them is cancelled. None of it is written.
        using (var tenant = new SchedulerClient(first.Address, TenantKey))
        {
            var jobs = new List<Job>();
            for (var i = 0; i < 3; i++)
            {
                jobs.Add(await tenant.SubmitAsync(new SubmitJobRequest { Model = FaultCluster.Model, Prompt = $"unwritten {i}", MaxTokens = 8 }));
            }

            Assert.Equal(JobStatus.Cancelled, (await tenant.CancelAsync(jobs[0].JobId)).Status);
        }

        Assert.Equal(written, await connection.GetDatabase().HashGetAsync(stateKey, "etag"));

        await using var second = await KillAndRestart(first, args);
        using var restartedAdmin = new SchedulerAdminClient(second.Address, AdminKey);
        Tenant? restored = null;
        await Polling.Until(async () => (restored = await TryGetTenant(restartedAdmin)) is { Usage.JobsCancelled: 1 },
            "the restored tenant counting the jobs accepted after its last write", StartTimeout, TimeSpan.FromMilliseconds(500));
        Assert.Equal((2, 0), (restored!.QueuedJobs, restored.RunningJobs));
        Assert.Equal(3, restored.Usage.JobsSubmitted);
    }

    [Fact]
    public async Task JobEndedUncountedUntilItsRecordExpired_SiloKilled_TheRestoredTenantNoLongerCountsIt_ButStillCountsAnOldQueuedJob()
    {
        // The job's end was lost with the tenant's unwritten state, and the tenant is restored only once the job's record
        // has expired: found nowhere, the job was counted for good (holding the tenant's max_queued_jobs place).
        await using var redis = await RedisServer.StartAsync();
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.Endpoint);
        var clusterId = "expiredend-" + Guid.NewGuid().ToString("N")[..8];
        var retention = TimeSpan.FromSeconds(4);
        var args = SiloArgs(redis, clusterId, TimeSpan.FromHours(1), retention);
        await using var first = SiloProcess.Start(0, args);
        await FaultCluster.WaitServing(first, StartTimeout);
        var stateKey = await TenantStateKey(connection, clusterId);

        // Two jobs stay queued (no worker serves the model); an update of the tenant writes its state with both.
        using var tenant = new SchedulerClient(first.Address, TenantKey);
        var ended = await tenant.SubmitAsync(new SubmitJobRequest { Model = FaultCluster.Model, Prompt = "ends unwritten", MaxTokens = 8 });
        var waiting = await tenant.SubmitAsync(new SubmitJobRequest { Model = FaultCluster.Model, Prompt = "waits on", MaxTokens = 8 });
        using (var admin = new SchedulerAdminClient(first.Address, AdminKey))
        {
            await admin.PutTenantAsync(new PutTenantRequest { TenantId = TenantId, Weight = 2 });
            Assert.Equal(2, (await admin.GetTenantAsync(TenantId)).QueuedJobs);
            var written = await connection.GetDatabase().HashGetAsync(stateKey, "etag");

            // One ends, counted in memory only; its record expires with the retention.
            Assert.Equal(JobStatus.Cancelled, (await tenant.CancelAsync(ended.JobId)).Status);
            await Polling.Until(async () => (await admin.GetTenantAsync(TenantId)).QueuedJobs == 1,
                "the tenant counting the end", TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(50));
            Assert.Equal(written, await connection.GetDatabase().HashGetAsync(stateKey, "etag"));
        }

        await Polling.Until(async () => await IsNotFound(tenant, ended.JobId), "the ended job's record expired",
            retention + TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(200));

        // The restored tenant finds the ended job nowhere, accepted more than the retention ago: it ended. The waiting
        // one, as old, is unfinished in the journal and stays counted.
        await using var second = await KillAndRestart(first, args);
        using var restartedAdmin = new SchedulerAdminClient(second.Address, AdminKey);
        await Polling.Until(async () => await TryGetTenant(restartedAdmin) is not null,
            "the tenant answering on the restarted silo", StartTimeout, TimeSpan.FromMilliseconds(500));
        Tenant? restored = null;
        await Polling.Until(async () => (restored = await TryGetTenant(restartedAdmin)) is { QueuedJobs: < 2 },
            "the restored tenant no longer counting the job whose record expired", TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(200));
        Assert.Equal((1, 0), (restored!.QueuedJobs, restored.RunningJobs));
        using var restartedTenant = new SchedulerClient(second.Address, TenantKey);
        Assert.Equal(JobStatus.Queued, (await restartedTenant.GetAsync(waiting.JobId)).Status);

        // Its outcome went with its record: counted as submitted, under no outcome.
        Assert.Equal((2, 0), (restored.Usage.JobsSubmitted, restored.Usage.JobsCancelled));
    }

    [Fact]
    public async Task TenantOnASiloFrozenPastItsDeath_WakesWithAnUnwrittenChange_DoesNotWriteOverTheSurvivorsState()
    {
        // A silo frozen (SIGSTOP, a stalled VM) past the time the cluster declares it dead runs for a moment when it
        // wakes, before it learns it is dead: its tenant activation's periodic write then meets the newer version the
        // survivor's activation wrote, and wrote over it (OwnedStateWrites) until the write learned to ask the
        // membership table first.
        await using var redis = await RedisServer.StartAsync();
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.Endpoint);
        var clusterId = "frozen-" + Guid.NewGuid().ToString("N")[..8];
        var args = SiloArgs(redis, clusterId, WriteInterval);
        await using var frozen = SiloProcess.Start(0, args);
        await FaultCluster.WaitServing(frozen, StartTimeout);
        var stateKey = await TenantStateKey(connection, clusterId);

        // The tenant lives on the first silo (the only one), its jobs queued (no worker serves the model) and written.
        using (var tenant = new SchedulerClient(frozen.Address, TenantKey))
        {
            await tenant.SubmitAsync(new SubmitJobRequest { Model = FaultCluster.Model, Prompt = "before", MaxTokens = 8 });
        }

        await WaitUntilSettled(connection, stateKey);
        await using var survivor = SiloProcess.Start(1, args);
        await FaultCluster.WaitServing(survivor, StartTimeout);

        // One more job changes the tenant on the first silo, and the silo freezes before its next periodic write.
        using (var tenant = new SchedulerClient(frozen.Address, TenantKey))
        {
            await tenant.SubmitAsync(new SubmitJobRequest { Model = FaultCluster.Model, Prompt = "unwritten", MaxTokens = 8 });
        }

        ProcessSignals.Send("STOP", frozen.Pid);
        try
        {
            // The survivor declares it dead, activates the tenant again and writes its own newer state.
            using var tenant = new SchedulerClient(survivor.Address, TenantKey);
            for (var i = 0; i < 3; i++)
            {
                await Polling.Until(async () => await TrySubmit(tenant, $"on-the-survivor-{i}"),
                    "the survivor accepting the tenant's jobs", StartTimeout, TimeSpan.FromMilliseconds(200));
            }

            await WaitUntilSettled(connection, stateKey);
        }
        finally
        {
            ProcessSignals.Send("CONT", frozen.Pid);
        }

        var survivors = await connection.GetDatabase().HashGetAsync(stateKey, "etag");

        // Awake, the first silo learns it is dead and stops; whatever it tried before that must not land.
        using (var exit = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            await frozen.WaitForExitAsync(exit.Token);
        }

        Assert.Equal(survivors, await connection.GetDatabase().HashGetAsync(stateKey, "etag"));
    }

    private static async Task<bool> TrySubmit(SchedulerClient tenant, string prompt)
    {
        try
        {
            // Keyed: a try that timed out but was accepted is answered as the same job when tried again.
            await tenant.SubmitAsync(new SubmitJobRequest { Model = FaultCluster.Model, Prompt = prompt, MaxTokens = 8, IdempotencyKey = prompt },
                deadline: DateTime.UtcNow.AddSeconds(5));
            return true;
        }
        catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Internal)
        {
            // The tenant's activation is on the frozen silo until the survivor declares it dead.
            return false;
        }
    }

    private static async Task<bool> IsNotFound(SchedulerClient client, string jobId)
    {
        try
        {
            await client.GetAsync(jobId);
            return false;
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
        {
            return true;
        }
    }

    /// <summary>A silo in Redis mode serving the one tenant, writing its state every <paramref name="writeInterval"/>,
    /// keeping finished jobs for <paramref name="retention"/> (the default when null).</summary>
    private static string[] SiloArgs(RedisServer redis, string clusterId, TimeSpan writeInterval, TimeSpan? retention = null) =>
    [
        "--Scheduler:Clustering=redis", $"--Scheduler:Redis={redis.Endpoint}",
        $"--Scheduler:ClusterId={clusterId}", $"--Scheduler:ServiceId={clusterId}",
        $"--Scheduler:AdminApiKey={AdminKey}", $"--Scheduler:Scheduling:TenantStateWriteInterval={writeInterval}",
        $"--Scheduler:Tenants:0:Id={TenantId}", $"--Scheduler:Tenants:0:ApiKey={TenantKey}",
        .. retention is { } r ? [$"--Scheduler:Scheduling:JobRetention={r}"] : Array.Empty<string>(),
        "--Logging:LogLevel:Default=Warning",
    ];

    /// <summary>Kills <paramref name="first"/> (no write on deactivation) and starts a silo in its place, on its ports.</summary>
    private static async Task<SiloProcess> KillAndRestart(SiloProcess first, string[] args)
    {
        first.Kill();
        using (var exit = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            await first.WaitForExitAsync(exit.Token);
        }

        var second = SiloProcess.StartInPlaceOf(first, 1, args);
        await FaultCluster.WaitServing(second, StartTimeout);
        return second;
    }

    private static async Task WaitUntilSettled(ConnectionMultiplexer connection, RedisKey stateKey)
    {
        var quiet = 2 * WriteInterval + TimeSpan.FromSeconds(1);
        var last = await connection.GetDatabase().HashGetAsync(stateKey, "etag");
        var since = DateTime.UtcNow;
        await Polling.Until(async () =>
        {
            var etag = await connection.GetDatabase().HashGetAsync(stateKey, "etag");
            if (etag != last)
            {
                (last, since) = (etag, DateTime.UtcNow);
            }

            return DateTime.UtcNow - since >= quiet;
        }, "the tenant's state to stop changing in Redis", TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(100));
    }

    /// <summary>The Redis hash holding the tenant grain's state (Orleans' Redis grain storage: <c>ServiceId/state/…</c>).</summary>
    private static async Task<RedisKey> TenantStateKey(ConnectionMultiplexer connection, string serviceId)
    {
        var server = connection.GetServer(connection.GetEndPoints()[0]);
        RedisKey[] keys = [];
        await Polling.Until(() =>
        {
            keys = [.. server.Keys(pattern: $"{serviceId}/state/*{TenantId}*")];
            return keys.Length > 0;
        }, "the seeded tenant's state in Redis", TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(200));
        return Assert.Single(keys);
    }

    private static async Task<Tenant?> TryGetTenant(SchedulerAdminClient admin)
    {
        try
        {
            return await admin.GetTenantAsync(TenantId, deadline: DateTime.UtcNow.AddSeconds(10));
        }
        catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Internal)
        {
            // The restarted silo is still taking over the dead one's grains.
            return null;
        }
    }
}
