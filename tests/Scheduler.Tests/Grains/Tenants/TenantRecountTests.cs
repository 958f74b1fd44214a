using System.Diagnostics;
using Orleans.Core.Internal;
using Scheduler.Abstractions.Jobs;
using Scheduler.Abstractions.Tenants;
using Scheduler.Grains.Tenants;
using static Scheduler.Tests.Grains.GrainTestKit;

namespace Scheduler.Tests.Grains.Tenants;

/// <summary>
/// In Redis mode a tenant's state is written every <c>TenantStateWriteInterval</c>, so a silo killed between two writes
/// loses the jobs the tenant accepted since the last (journaled and acknowledged, in the job index, in no count). The
/// next activation counts them. Here the kill is what it leaves: the tenant's stored state put back as its last write
/// left it, the journal and the index in a real Redis as they are.
/// </summary>
[Collection(RedisGrainClusterCollection.Name)]
public sealed class TenantRecountTests(RedisGrainClusterFixture cluster)
{
    private readonly string _model = Unique("model");
    private readonly string _tenantId = Unique("tenant");

    private ITenantGrain Tenant => cluster.Client.GetGrain<ITenantGrain>(_tenantId);

    private string JobId(int i) => $"{_tenantId}-j{i}";

    [Fact]
    public async Task Recount_AJobAcceptedInTheMillisecondOfTheLastWriteAfterIt_IsCounted_AndOneEndedBeforeItIsNotCountedAgain()
    {
        // A live restart counted 50,000 submitted for 50,001 jobs: the recount left out a job accepted in the very
        // millisecond of the last write, since one accepted in it before the write (perhaps ended) is in the state.
        await Put();
        GrainState<TenantState> written;
        using (cluster.Clock.Hold(DateTimeOffset.UtcNow))
        {
            // In one millisecond: a job accepted and cancelled, a write that counts both, then a job accepted after it.
            await Submit(JobId(0));
            Assert.Equal(JobStatus.Cancelled, (await cluster.Client.GetGrain<IJobGrain>(JobId(0)).Cancel())?.Status);
            await Until(async () => await Tenant.Get() is { Usage.JobsCancelled: 1 }, "the tenant counting the end");
            written = await WriteAndRead();
            await Submit(JobId(1));
        }

        await LoseWhatCameAfter(written);

        // Counted once each: the job after the write is counted, the one before it not again (nor its end).
        await Until(async () => await Tenant.Get() is { Usage.JobsSubmitted: >= 2 }, "the job accepted after the write counted");
        var tenant = await Tenant.Get();
        Assert.Equal((2, 1, 0), (tenant!.Usage.JobsSubmitted, tenant.QueuedJobs, tenant.RunningJobs));
        Assert.Equal(1, tenant.Usage.JobsCancelled);
    }

    [Fact]
    public async Task FirstRead_AfterTheJobsAcceptedSinceTheLastWriteWereLost_ReportsThemCounted()
    {
        // The first ListTenants after a live restart summed 37,444–48,270 of 50,001: it activated the grains, which
        // answered before they recounted.
        await Put();
        var written = await WriteAndRead();
        for (var i = 0; i < 3; i++)
        {
            await Submit(JobId(i));
        }

        await LoseWhatCameAfter(written);

        var first = await Tenant.Get();
        Assert.Equal((3, 3, 0), (first!.Usage.JobsSubmitted, first.QueuedJobs, first.RunningJobs));
    }

    [Fact]
    public async Task FirstSubmission_AfterJobsFillingTheQueueQuotaWereLost_IsRefusedQueueFull()
    {
        await Put(maxQueued: 2);
        var written = await WriteAndRead();
        await Submit(JobId(0));
        await Submit(JobId(1));

        await LoseWhatCameAfter(written);

        var third = await Tenant.Submit(JobId(2), Request(_model), []);
        Assert.Equal(SubmitRejection.QueueFull, third.Rejection);
        Assert.Equal(2, (await Tenant.Get())?.QueuedJobs);
    }

    [Fact]
    public async Task FirstRead_WithRedisNotAnswering_IsAnsweredWithinTheCountsBound_AndTheLostJobsAreCountedOnceItAnswers()
    {
        await Put();
        var written = await WriteAndRead();
        await Submit(JobId(0));
        await Submit(JobId(1));
        await LoseWhatCameAfter(written);

        // Frozen: the index read at activation gets no answer. The activation stops waiting for it (5 s) and answers.
        var watch = Stopwatch.StartNew();
        cluster.Redis.Pause();
        try
        {
            await Tenant.Get();
        }
        finally
        {
            cluster.Redis.Resume();
        }

        Assert.InRange(watch.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(15));
        await Until(async () => await Tenant.Get() is { Usage.JobsSubmitted: 2, QueuedJobs: 2 }, "the lost jobs counted in the background");
    }

    private async Task Put(int maxQueued = 0) =>
        await Tenant.Put(new TenantSettings(1, new TenantQuotas(maxQueued, 0, 0), ApiKey: null));

    private async Task Submit(string jobId) =>
        Assert.Equal(SubmitRejection.None, (await Tenant.Submit(jobId, Request(_model), [])).Rejection);

    /// <summary>Writes the tenant's state (a put that changes nothing writes it, as the periodic write would) and reads
    /// back what storage holds.</summary>
    private async Task<GrainState<TenantState>> WriteAndRead()
    {
        await Tenant.Put(new TenantSettings(1, TenantQuotas.Default, ApiKey: null), TenantFields.Weight);
        return await ReadStored();
    }

    private async Task<GrainState<TenantState>> ReadStored()
    {
        var stored = new GrainState<TenantState>();
        await cluster.Storage.ReadStateAsync("tenant", Tenant.GetGrainId(), stored);
        return stored;
    }

    /// <summary>What a silo killed after the tenant's <paramref name="written"/> state leaves: the activation is gone and
    /// storage holds that state. (Deactivated, it writes what came after; that write is then undone.)</summary>
    private async Task LoseWhatCameAfter(GrainState<TenantState> written)
    {
        await Tenant.Cast<IGrainManagementExtension>().DeactivateOnIdle();
        var stored = new GrainState<TenantState>();
        await Until(async () => (stored = await ReadStored()).ETag != written.ETag, "the deactivated tenant's write");
        written.ETag = stored.ETag;
        await cluster.Storage.WriteStateAsync("tenant", Tenant.GetGrainId(), written);
    }
}
