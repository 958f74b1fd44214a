using Orleans.Core.Internal;
using Scheduler.Abstractions.Catalog;
using Scheduler.Abstractions.Jobs;
using Scheduler.Abstractions.Placement;
using Scheduler.Abstractions.Tenants;
using Scheduler.Grains.Tenants;
using Scheduler.Policies;
using static Scheduler.Tests.Grains.GrainTestKit;

namespace Scheduler.Tests.Grains;

[Collection(GrainClusterCollection.Name)]
public sealed class TenantGrainTests(GrainClusterFixture cluster)
{
    private readonly string _model = Unique("model");
    private readonly string _tenantId = Unique("tenant");

    private ITenantGrain Tenant => cluster.Client.GetGrain<ITenantGrain>(_tenantId);

    private IPlacementGrain Placement => cluster.Client.GetGrain<IPlacementGrain>(_model);

    private string JobId(int i) => $"{_tenantId}-j{i}";

    private async Task<TenantInfo> Put(int maxQueued = 0, double weight = 1) =>
        (await Tenant.Put(new TenantSettings(weight, new TenantQuotas(maxQueued, 0, 0), ApiKey: null))).Tenant!;

    [Fact]
    public async Task Submit_AfterPut_CreatesQueuedJobAndEnqueuesItForItsModel()
    {
        var info = await Put(weight: 2);
        Assert.Equal(_tenantId, info.TenantId);
        Assert.Equal(2, info.Weight);

        var result = await Tenant.Submit(JobId(0), Request(_model, prompt: 40, maxTokens: 60), []);

        Assert.Equal(SubmitRejection.None, result.Rejection);
        Assert.False(result.Duplicate);
        Assert.Equal(0, result.QueuePosition);
        var job = Assert.IsType<JobSnapshot>(result.Job);
        Assert.Equal(JobId(0), job.JobId);
        Assert.Equal(_tenantId, job.TenantId);
        Assert.Equal(_model, job.Model);
        Assert.Equal(JobStatus.Queued, job.Status);
        Assert.Equal(40, job.PromptTokens);
        Assert.Equal(60, job.MaxTokens);
        var tenant = await Tenant.Get();
        Assert.Equal(1, tenant?.QueuedJobs);
        Assert.Equal(1, tenant?.Usage.JobsSubmitted);
        var placement = await Placement.GetSnapshot();
        Assert.Equal(1, placement.QueuedJobs);
        Assert.Equal(1, placement.QueuedByTenant[_tenantId]);
        Assert.Equal(JobStatus.Queued, (await cluster.Client.GetGrain<IJobGrain>(JobId(0)).Get())?.Status);
    }

    [Fact]
    public async Task Submit_JournalFailing_IsNotCounted_AndTheNextSubmissionIs()
    {
        // Redis failing mid-submission: the tenant counted the job it then refused, and its usage no longer added up
        // (submitted above the sum of outcomes, for good; an SRE probe counted 4 too many in 11,194).
        await Put();
        using (cluster.Journal.FailAccepts(_model))
        {
            await Assert.ThrowsAsync<TimeoutException>(() => Tenant.Submit(JobId(0), Request(_model), []));
        }

        var refused = await Tenant.Get();
        Assert.Equal((0L, 0), (refused!.Usage.JobsSubmitted, refused.QueuedJobs));

        Assert.Equal(SubmitRejection.None, (await Tenant.Submit(JobId(1), Request(_model), [])).Rejection);
        Assert.Equal(1, (await Tenant.Get())!.Usage.JobsSubmitted);
    }

    [Fact]
    public async Task Submit_JournalFailing_CostsNoRateQuota()
    {
        // One request a minute: the refused submission took it, and the retry was refused for a minute.
        await Tenant.Put(new TenantSettings(1, new TenantQuotas(0, RequestsPerMinute: 1, TokensPerMinute: 0), ApiKey: null));
        using (cluster.Journal.FailAccepts(_model))
        {
            await Assert.ThrowsAsync<TimeoutException>(() => Tenant.Submit(JobId(0), Request(_model), []));
        }

        Assert.Equal(SubmitRejection.None, (await Tenant.Submit(JobId(1), Request(_model), [])).Rejection);
        Assert.Equal(SubmitRejection.RateLimited, (await Tenant.Submit(JobId(2), Request(_model), [])).Rejection);
    }

    [Fact]
    public async Task Submit_WithCapacity_IsAdmittedAndCountedAsRunning()
    {
        var node = Unique("node");
        var link = await RegisterNode(cluster, node, Replica(Unique("rep"), _model, node, maxSequences: 4, kvCapacityTokens: 100_000));
        await Put();

        var result = await Tenant.Submit(JobId(0), Request(_model), []);

        Assert.Equal(SubmitRejection.None, result.Rejection);
        await Until(() => link.AdmittedJobIds.Contains(JobId(0)), "the job reaches its node");
        var admitted = Assert.Single(Assert.Single(link.Admits).Batch);
        Assert.Equal(_tenantId, admitted.Ticket.TenantId);
        Assert.Equal(1.0, admitted.Ticket.TenantWeight);
        await Until(async () => (await Tenant.Get()) is { QueuedJobs: 0, RunningJobs: 1 }, "the tenant counts the job as running");
        await Until(async () => (await cluster.Client.GetGrain<IJobGrain>(JobId(0)).Get())?.Status == JobStatus.Running, "the job is running");
        var job = await cluster.Client.GetGrain<IJobGrain>(JobId(0)).Get();
        Assert.Equal(admitted.Placement, job?.Placement);
    }

    [Fact]
    public async Task Submit_OverMaxQueuedQuota_IsRejectedQueueFull()
    {
        await Put(maxQueued: 2);

        var first = await Tenant.Submit(JobId(0), Request(_model), []);
        var second = await Tenant.Submit(JobId(1), Request(_model), []);
        var third = await Tenant.Submit(JobId(2), Request(_model), []);

        Assert.Equal(SubmitRejection.None, first.Rejection);
        Assert.Equal(SubmitRejection.None, second.Rejection);
        Assert.Equal(1, second.QueuePosition);
        Assert.Equal(SubmitRejection.QueueFull, third.Rejection);
        Assert.Null(third.Job);
        Assert.Contains("2", third.Message);
        Assert.Null(await cluster.Client.GetGrain<IJobGrain>(JobId(2)).Get());
        Assert.Equal(2, (await Placement.GetSnapshot()).QueuedJobs);
        Assert.Equal(2, (await Tenant.Get())?.QueuedJobs);
    }

    [Fact]
    public async Task Submit_QueueFull_FreesUpWhenAQueuedJobIsCancelled()
    {
        await Put(maxQueued: 1);
        await Tenant.Submit(JobId(0), Request(_model), []);
        Assert.Equal(SubmitRejection.QueueFull, (await Tenant.Submit(JobId(1), Request(_model), [])).Rejection);

        var cancelled = await cluster.Client.GetGrain<IJobGrain>(JobId(0)).Cancel();

        Assert.Equal(JobStatus.Cancelled, cancelled?.Status);
        await Until(async () => (await Tenant.Get()) is { QueuedJobs: 0 }, "the tenant's queue count drops");
        Assert.Equal(1, (await Tenant.Get())?.Usage.JobsCancelled);
        Assert.Equal(SubmitRejection.None, (await Tenant.Submit(JobId(2), Request(_model), [])).Rejection);
        Assert.Equal(1, (await Placement.GetSnapshot()).QueuedJobs);
    }

    [Fact]
    public async Task Submit_SameIdempotencyKey_ReturnsDuplicateWithSameJobId()
    {
        await Put(maxQueued: 1);
        var key = Unique("idem");

        var original = await Tenant.Submit(JobId(0), Request(_model, idempotencyKey: key), []);
        var retry = await Tenant.Submit(JobId(1), Request(_model, idempotencyKey: key), []);

        Assert.Equal(SubmitRejection.None, original.Rejection);
        Assert.False(original.Duplicate);
        Assert.Equal(SubmitRejection.None, retry.Rejection);  // not QueueFull: a retry is not a new job
        Assert.True(retry.Duplicate);
        Assert.Equal(JobId(0), retry.Job?.JobId);
        Assert.Null(await cluster.Client.GetGrain<IJobGrain>(JobId(1)).Get());
        Assert.Equal(1, (await Placement.GetSnapshot()).QueuedJobs);
        Assert.Equal(1, (await Tenant.Get())?.Usage.JobsSubmitted);
    }

    [Fact]
    public async Task Submit_ConcurrentRetriesWithOneIdempotencyKey_CreateOneJob()
    {
        // Submissions interleave inside the tenant grain; the key is claimed before the first await.
        await Put();
        var key = Unique("idem");

        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => Tenant.Submit(JobId(i), Request(_model, idempotencyKey: key), [])));

        var jobIds = results.Select(r => r.Job?.JobId).Distinct().ToList();
        Assert.Single(jobIds);
        Assert.Equal(19, results.Count(r => r.Duplicate));
        Assert.Equal(1, (await Placement.GetSnapshot()).QueuedJobs);
        Assert.Equal(1, (await Tenant.Get())?.Usage.JobsSubmitted);
    }

    [Fact]
    public async Task Submit_ManyConcurrent_QuotaIsNeverExceeded()
    {
        await Put(maxQueued: 5);

        var results = await Task.WhenAll(Enumerable.Range(0, 30).Select(i => Tenant.Submit(JobId(i), Request(_model), [])));

        Assert.Equal(5, results.Count(r => r.Rejection == SubmitRejection.None));
        Assert.Equal(25, results.Count(r => r.Rejection == SubmitRejection.QueueFull));
        Assert.Equal(5, (await Placement.GetSnapshot()).QueuedJobs);
    }

    [Fact]
    public async Task Submit_DifferentIdempotencyKeys_AreDifferentJobs()
    {
        await Put();

        var a = await Tenant.Submit(JobId(0), Request(_model, idempotencyKey: "k-a"), []);
        var b = await Tenant.Submit(JobId(1), Request(_model, idempotencyKey: "k-b"), []);

        Assert.False(b.Duplicate);
        Assert.NotEqual(a.Job?.JobId, b.Job?.JobId);
        Assert.Equal(2, (await Placement.GetSnapshot()).QueuedJobs);
    }

    [Fact]
    public async Task Submit_KeyedSubmissionRefusedByTheQuota_LeavesTheKeyFree_ARetryWithRoomIsANewJob()
    {
        await Put(maxQueued: 1);
        var key = Unique("idem");
        await Tenant.Submit(JobId(0), Request(_model), []);

        var refused = await Tenant.Submit(JobId(1), Request(_model, idempotencyKey: key), []);
        await Put(maxQueued: 5);
        var retry = await Tenant.Submit(JobId(2), Request(_model, idempotencyKey: key), []);

        Assert.Equal(SubmitRejection.QueueFull, refused.Rejection);
        Assert.Equal(SubmitRejection.None, retry.Rejection);
        Assert.False(retry.Duplicate);
        Assert.Equal(JobId(2), retry.Job?.JobId);
        Assert.Equal(2, (await Placement.GetSnapshot()).QueuedJobs);
    }

    [Fact]
    public async Task Submit_KeyBoundToAJobNeverRecorded_TheRetryTakesTheKeyOver()
    {
        // The first attempt bound its key, then its silo died before the job was journaled.
        await Put();
        var key = Unique("idem");
        var request = Request(_model, idempotencyKey: key);
        await cluster.IdempotencyKeys.Claim(_tenantId, key, new IdempotencyBinding(JobId(0), RequestFingerprint.Of(request)));

        var retry = await Tenant.Submit(JobId(1), request, []);
        var again = await Tenant.Submit(JobId(2), request, []);

        Assert.Equal(SubmitRejection.None, retry.Rejection);
        Assert.False(retry.Duplicate);
        Assert.Equal(JobId(1), retry.Job?.JobId);
        Assert.True(again.Duplicate);
        Assert.Equal(JobId(1), again.Job?.JobId);
        Assert.Equal(1, (await Placement.GetSnapshot()).QueuedJobs);
    }

    [Fact]
    public async Task Put_TenantStoredButNotListed_ListsIt()
    {
        // What a put leaves when its silo dies between writing the tenant and listing it in the catalog (an outside
        // probe: a silo killed during a burst of tenant puts left one tenant that GetTenant found and ListTenants never
        // listed, however often the put was retried).
        await cluster.Storage.WriteStateAsync("tenant", Tenant.GetGrainId(), new GrainState<TenantState>(new TenantState { Exists = true }));

        await Put();

        var catalog = await cluster.Client.GetGrain<ICatalogGrain>(ICatalogGrain.Key).Get();
        Assert.Contains(_tenantId, catalog.Tenants);
    }

    [Fact]
    public async Task Activate_WithKeysStoredInItsStateByAnEarlierVersion_MovesThemOutWithTheirJobsAndFingerprints()
    {
        // An earlier version kept the keys in the tenant's state: one with the fingerprint of its request, one from
        // before fingerprints were kept. Both name job 0, which was accepted (journaled).
        var key = Unique("idem");
        var unfingerprinted = Unique("idem-old");
        var request = Request(_model, prompt: 40, maxTokens: 10, idempotencyKey: key);
        await cluster.Journal.Add(new JobTicket(JobId(0), _tenantId, request, DateTimeOffset.UtcNow, [], 1));
        var stored = new TenantState { Exists = true };
        stored.IdempotencyKeys[key] = JobId(0);
        stored.IdempotencyFingerprints[key] = RequestFingerprint.Of(request);
        stored.IdempotencyOrder.Enqueue(key);
        stored.IdempotencyKeys[unfingerprinted] = JobId(0);
        stored.IdempotencyOrder.Enqueue(unfingerprinted);
        await cluster.Storage.WriteStateAsync("tenant", Tenant.GetGrainId(), new GrainState<TenantState>(stored));

        var duplicate = await Tenant.Submit(JobId(1), request, []);
        var reused = await Tenant.Submit(JobId(2), request with { MaxTokens = 11 }, []);
        var anyRequest = await Tenant.Submit(JobId(3), Request(_model, prompt: 7, idempotencyKey: unfingerprinted), []);

        Assert.True(duplicate.Duplicate);
        Assert.Equal(JobId(0), duplicate.Job?.JobId);
        Assert.Equal(SubmitRejection.IdempotencyKeyReused, reused.Rejection);
        Assert.True(anyRequest.Duplicate);
        Assert.Equal(JobId(0), anyRequest.Job?.JobId);
        Assert.Equal(new IdempotencyBinding(JobId(0), RequestFingerprint.Of(request)),
            await cluster.IdempotencyKeys.Claim(_tenantId, key, new IdempotencyBinding(JobId(4), null)));
        Assert.Equal(new IdempotencyBinding(JobId(0), null),
            await cluster.IdempotencyKeys.Claim(_tenantId, unfingerprinted, new IdempotencyBinding(JobId(4), null)));

        // The state keeps none: moved once, written back without them.
        var after = new GrainState<TenantState>();
        await cluster.Storage.ReadStateAsync("tenant", Tenant.GetGrainId(), after);
        var moved = Assert.IsType<TenantState>(after.State);
        Assert.True(moved.Exists);
        Assert.Empty(moved.IdempotencyKeys);
        Assert.Empty(moved.IdempotencyFingerprints);
        Assert.Empty(moved.IdempotencyOrder);
    }

    [Fact]
    public async Task Submit_StateInMemory_KeepsNoAcceptedJobIds_ForARecountThatNeverComes()
    {
        // The ids a recount after a silo's death tells counted jobs by (TenantState.Submissions) are pruned at each write;
        // in memory the state is written only on deactivation, so a busy tenant's would pile up, a job each, for good.
        // Three jobs and a write in one millisecond: ids accepted in the write's millisecond are the ones a write keeps.
        await Put();
        using (cluster.Clock.Hold(DateTimeOffset.UtcNow))
        {
            for (var i = 0; i < 3; i++)
            {
                Assert.Equal(SubmitRejection.None, (await Tenant.Submit(JobId(i), Request(_model), [])).Rejection);
            }

            await Tenant.Put(new TenantSettings(1, TenantQuotas.Default, ApiKey: null), TenantFields.Weight);
        }

        var stored = new GrainState<TenantState>();
        await cluster.Storage.ReadStateAsync("tenant", Tenant.GetGrainId(), stored);
        var state = Assert.IsType<TenantState>(stored.State);
        Assert.Equal(3, state.Usage.JobsSubmitted);
        Assert.Empty(state.Submissions.Ids);
    }

    public static TheoryData<string> ChangedRequests => ["model", "prompt", "prompt_token_ids", "max_tokens", "priority", "ttft_objective_ms", "stop", "stop_sequences", "temperature", "top_p", "top_k", "seed", "messages"];

    [Theory]
    [MemberData(nameof(ChangedRequests))]
    public async Task Submit_SameIdempotencyKeyWithAnotherRequest_IsRefusedNamingTheKey_TheSameRequestStillGetsItsJob(string changed)
    {
        await Put();
        var key = Unique("idem");
        var request = Request(_model, prompt: 40, maxTokens: 10, idempotencyKey: key);
        var other = changed switch
        {
            "model" => request with { Model = Unique("model") },
            "prompt" => request with { Prompt = "another prompt" },
            "prompt_token_ids" => request with { Prompt = null, PromptTokenIds = [1, 2, 3] },
            "max_tokens" => request with { MaxTokens = 11 },
            "priority" => request with { Priority = JobPriority.Critical },
            "ttft_objective_ms" => request with { TtftObjectiveMs = 250 },
            "stop" => request with { Stop = "." },
            "stop_sequences" => request with { StopSequences = ["\n\n"] },
            "temperature" => request with { Sampling = new JobSampling(0.5f, null, null, null) },
            "top_p" => request with { Sampling = new JobSampling(null, 0.9f, null, null) },
            "top_k" => request with { Sampling = new JobSampling(null, null, 40, null) },
            "seed" => request with { Sampling = new JobSampling(null, null, null, 7) },

            // The same prompt text, but from a chat: an engine with a template of its own runs the turns.
            "messages" => request with { Messages = [new JobMessage("user", request.Prompt!)] },
            _ => throw new ArgumentOutOfRangeException(nameof(changed), changed, "no such request field"),
        };

        var original = await Tenant.Submit(JobId(0), request, []);
        var reused = await Tenant.Submit(JobId(1), other, []);
        var retry = await Tenant.Submit(JobId(2), request with { TraceParent = "another trace", Deadline = DateTimeOffset.UtcNow.AddMinutes(1) }, []);

        Assert.Equal(SubmitRejection.IdempotencyKeyReused, reused.Rejection);
        Assert.Null(reused.Job);
        Assert.StartsWith("idempotency_key:", reused.Message, StringComparison.Ordinal);
        Assert.Contains(JobId(0), reused.Message, StringComparison.Ordinal);
        Assert.Null(await cluster.Client.GetGrain<IJobGrain>(JobId(1)).Get());
        Assert.True(retry.Duplicate);
        Assert.Equal(original.Job?.JobId, retry.Job?.JobId);
        Assert.Equal(1, (await Tenant.Get())?.Usage.JobsSubmitted);
    }

    [Fact]
    public async Task Counts_AJobsEndHandledBeforeItsAdmission_NothingStaysRunning()
    {
        await Put();
        await Tenant.Submit(JobId(0), Request(_model), []);

        // The job ran and ended, and its end overtook the placement's notice that it was admitted.
        await Tenant.OnFinished(JobId(0), Completed(JobId(0)));
        await Until(async () => await Tenant.Get() is { Usage.JobsCompleted: 1 }, "the end is handled");
        await Tenant.OnAdmitted([JobId(0)]);

        await Until(async () => await Tenant.Get() is { QueuedJobs: 0, RunningJobs: 0 }, "nothing queued or running");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Counts_NoticesInterleavedAndRepeated_ConvergeOnEachJobsState(int seed)
    {
        // Twelve jobs; each is admitted (or not: still queued, or cancelled in the queue) and ends (or not), with some
        // notices repeated, all sent at once in a seeded random order — one-way calls are handled in no set order anyway.
        await Put();
        var random = new Random(seed);
        var jobs = Enumerable.Range(0, 12).Select(i => (Id: JobId(i), Admitted: random.Next(3) > 0, Ended: random.Next(3) > 0)).ToArray();
        foreach (var job in jobs)
        {
            await Tenant.Submit(job.Id, Request(_model), []);
        }

        var notices = jobs
            .SelectMany(job => Enumerable.Repeat(job.Admitted ? "admitted" : null, random.Next(1, 3)).Concat(Enumerable.Repeat(job.Ended ? "ended" : null, random.Next(1, 3)))
                .OfType<string>().Select(kind => (job.Id, Kind: kind)))
            .OrderBy(_ => random.Next())
            .ToArray();
        foreach (var (id, kind) in notices)
        {
            await (kind == "admitted" ? Tenant.OnAdmitted([id]) : Tenant.OnFinished(id, Completed(id)));
        }

        var queued = jobs.Count(j => !j.Ended && !j.Admitted);
        var running = jobs.Count(j => !j.Ended && j.Admitted);
        var completed = jobs.Count(j => j.Ended);
        await Until(
            async () => await Tenant.Get() is { } t && t.QueuedJobs == queued && t.RunningJobs == running && t.Usage.JobsCompleted == completed,
            $"{queued} queued, {running} running, {completed} completed once each");
    }

    private static JobOutcome Completed(string jobId) =>
        new(JobStatus.Completed, "length", new JobUsage(100, 100, 0.01, 1, 2, 3), "text of " + jobId, null, []);

    [Fact]
    public async Task Submit_UnknownTenant_IsRejectedUnknownTenant()
    {
        var result = await Tenant.Submit(JobId(0), Request(_model), []);

        Assert.Equal(SubmitRejection.UnknownTenant, result.Rejection);
        Assert.Null(result.Job);
        Assert.Contains(_tenantId, result.Message);
        Assert.Null(await Tenant.Get());
        Assert.Equal(0, (await Placement.GetSnapshot()).QueuedJobs);
    }

    [Fact]
    public async Task Put_WeightRaisedWhileItsJobsQueue_ServesThemByTheNewWeight()
    {
        // A live probe: a tenant raised from weight 1 to 100 while 300 of its jobs queued (its new submissions refused by
        // the max_queued_jobs the same put lowered) was still served one for one with an equal tenant until its backlog
        // ran out: the placement learnt weights only from the tickets it queued, which carried the old one.
        await WeightRaisedWhileJobsQueue(NodeComes.First, afterThePut: () => Task.CompletedTask);
    }

    [Fact]
    public async Task Put_WeightRaisedThenThePlacementRebuilt_ServesTheQueuedJobsByTheNewWeight()
    {
        // The placement that heard of the put dies with its silo: its successor rebuilds the queue from the journal, whose
        // tickets carry the weight each job was accepted with. Until the rebuilt placement asked the tenants, the raised
        // tenant was served by its old weight again until it submitted or was put anew.
        await WeightRaisedWhileJobsQueue(NodeComes.First, afterThePut: async () =>
        {
            await Placement.Cast<IGrainManagementExtension>().DeactivateOnIdle();

            // The rebuild ends before this call is answered, having sent the tenant its one-way ask; the tenant takes one
            // call at a time, in the order they reached it, so its answer to Get comes after it told the placement.
            await Placement.Explain(JobId(1));
            await Tenant.Get();
        });
    }

    [Fact]
    public async Task Put_WeightRaisedWhileItsJobsQueueForAModelNoNodeServesYet_ServesThemByTheNewWeight()
    {
        // The put told the models of the catalog, which lists a model once a node registers for it: jobs queued for a
        // model whose nodes had not come yet (a fleet starting) were served by the old weight when they came.
        await WeightRaisedWhileJobsQueue(NodeComes.AfterThePut, afterThePut: () => Task.CompletedTask);
    }

    private enum NodeComes
    {
        First,
        AfterThePut,
    }

    // Two tenants of weight 1 queue four jobs each for one replica of one slot; the first is raised to 100 (once the
    // replica runs a job, or before any node has registered), then, after whatever the test does, each finish admits
    // the job the fair queue serves next.
    private async Task WeightRaisedWhileJobsQueue(NodeComes node, Func<Task> afterThePut)
    {
        cluster.Models.Add(_model);
        var nodeId = Unique("node");
        var replica = Unique("rep");
        Task<FakeNodeLink> Register() => RegisterNode(cluster, nodeId, Replica(replica, _model, nodeId, maxSequences: 1, kvCapacityTokens: 100_000));
        var link = node == NodeComes.First ? await Register() : null;
        var other = cluster.Client.GetGrain<ITenantGrain>(Unique("other"));
        await Put();
        await other.Put(new TenantSettings(1, TenantQuotas.Default, ApiKey: null));
        const int each = 4;
        for (var i = 0; i < each; i++)
        {
            Assert.Equal(SubmitRejection.None, (await Tenant.Submit(JobId(i), Request(_model), [])).Rejection);
            Assert.Equal(SubmitRejection.None, (await other.Submit($"{_tenantId}-other-j{i}", Request(_model), [])).Rejection);
        }

        if (link is not null)
        {
            await Until(() => link.AdmittedJobIds.Count == 1, "the first job takes the replica's one slot");
        }

        await Tenant.Put(new TenantSettings(100, TenantQuotas.Default, ApiKey: null), TenantFields.Weight);
        await afterThePut();
        if (link is null)
        {
            link = await Register();
            await Until(() => link.AdmittedJobIds.Count == 1, "the first job takes the replica's one slot");
        }

        // One slot: each finish admits the job the fair queue serves next.
        for (var admitted = 1; admitted < 2 * each; admitted++)
        {
            await Placement.OnProgress(replica, [], [new FinishedSequence(link.AdmittedJobIds[^1], 100, FinishReason.Length)]);
            await Until(() => link.AdmittedJobIds.Count == admitted + 1, "the next job is admitted");
        }

        // Weight 100 against 1: the raised tenant's queued jobs all go before the other's second (at the old weight they
        // alternated: its last was admitted sixth of eight, or seventh).
        var order = link.AdmittedJobIds;
        var lastOfRaised = order.ToList().FindLastIndex(id => id.StartsWith($"{_tenantId}-j", StringComparison.Ordinal));
        Assert.True(lastOfRaised <= each, $"admitted in order {string.Join(", ", order)}");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(0.0009)]
    [InlineData(1001)]
    public async Task Put_WeightOutOfRange_Throws(double weight)
    {
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Put(weight: weight));
        Assert.Null(await Tenant.Get());
    }
}
