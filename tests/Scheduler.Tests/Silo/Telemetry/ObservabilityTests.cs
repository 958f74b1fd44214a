using Grpc.Core;
using Scheduler.Protos.V1;
using Scheduler.Tests.EndToEnd.Hostile;

namespace Scheduler.Tests.Silo.Telemetry;

/// <summary>What operators run the scheduler by, read from a real silo process: its /metrics as Prometheus scrapes it,
/// and the spans it and a real worker process export over OTLP.</summary>
public sealed class ObservabilityTests(ObservedCluster cluster) : IClassFixture<ObservedCluster>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task JobCounters_AfterAQuietRun_AgreeWithTheAdminApi()
    {
        var (tenant, _) = ObservedCluster.Tenants[0];
        using var client = cluster.Tenant(0);

        // Completed, twice; the second submitted again with its idempotency key: the same job, not a new one.
        Assert.True((await client.RunAsync(Request(ObservedCluster.Model), deadline: Deadline())).Succeeded);
        var keyed = Request(ObservedCluster.Model);
        keyed.IdempotencyKey = "obs-key";
        var first = await client.RunAsync(keyed, deadline: Deadline());
        Assert.True(first.Succeeded);
        Assert.Equal(first.JobId, (await client.SubmitAsync(keyed)).JobId);

        // Cancelled in the queue (nothing serves the parked model), and expired there by its deadline.
        var cancelled = await client.SubmitAsync(Request(ObservedCluster.ParkedModel));
        Assert.Equal(JobStatus.Cancelled, (await client.CancelAsync(cancelled.JobId)).Status);
        var late = Request(ObservedCluster.ParkedModel);
        late.DeadlineMs = 300;
        var expired = await client.SubmitAsync(late);

        // Failed: its node reports an engine error.
        await using (var node = await FakeWorkerNode.StartRegisteredAsync(cluster.Channel, "obs-fail", ObservedCluster.ScriptedModel))
        {
            var failing = await client.SubmitAsync(Request(ObservedCluster.ScriptedModel));
            Assert.Equal(failing.JobId, (await node.NextAdmit(Wait)).Sequences.Single().SequenceId);
            var report = new StepReport { ReplicaId = node.ReplicaId, Step = 1 };
            report.Finished.Add(new SequenceFinished { SequenceId = failing.JobId, Reason = FinishReason.Error, Error = "the engine broke" });
            node.Send(report);
            await WaitStatus(client, failing.JobId, JobStatus.Failed);
        }

        await WaitStatus(client, expired.JobId, JobStatus.Expired);
        await cluster.WaitQuiet(tenant);

        using var admin = cluster.Admin();
        var usage = (await admin.GetTenantAsync(tenant)).Usage;
        Assert.Equal((2L, 1L, 1L, 1L, 5L), (usage.JobsCompleted, usage.JobsFailed, usage.JobsCancelled, usage.JobsExpired, usage.JobsSubmitted));

        // The counters move where jobs settle, a moment after the admin API sees them: read until they agree, then check.
        var byTenant = ("scheduler_tenant", tenant);
        IReadOnlyList<PrometheusSample> metrics = [];
        var deadline = DateTime.UtcNow + Wait;
        do
        {
            metrics = await cluster.ScrapeAsync();
        }
        while (metrics.Sum("scheduler_jobs_finished_total", byTenant) < usage.JobsSubmitted && DateTime.UtcNow < deadline && await Pause());

        // Tokens and cost of the jobs that ran, under the names of 2026-12-06 and (deprecated, on by default) the old ones.
        var output = ("gen_ai_token_type", "output");
        Assert.Equal(usage.CompletionTokens, metrics.Sum("scheduler_job_token_usage_sum", byTenant, output));
        Assert.Equal(usage.CompletionTokens, metrics.Sum("gen_ai_client_token_usage_sum", byTenant, output));
        Assert.True(usage.CostUsd > 0, "the completed jobs cost nothing");
        Assert.Equal(usage.CostUsd, metrics.Sum("scheduler_job_cost_usd_total", byTenant), 9);
        Assert.Equal(usage.CostUsd, metrics.Sum("scheduler_job_cost_USD_total", byTenant), 9);

        double Finished(string outcome) => metrics.Sum("scheduler_jobs_finished_total", byTenant, ("scheduler_job_outcome", outcome));
        Assert.Equal(usage.JobsSubmitted, metrics.Sum("scheduler_jobs_submitted_total", byTenant));
        Assert.Equal(usage.JobsSubmitted, metrics.Sum("scheduler_jobs_finished_total", byTenant));
        Assert.Equal(
            (usage.JobsCompleted, usage.JobsFailed, usage.JobsCancelled, usage.JobsExpired),
            ((long)Finished("completed"), (long)Finished("failed"), (long)Finished("cancelled"), (long)Finished("expired")));
    }

    [Fact]
    public async Task LatencyHistograms_HaveTheAdvisedBuckets_SoASubSecondFirstTokenIsNotLumpedUnderFiveSeconds()
    {
        using var client = cluster.Tenant(1);
        var run = await client.RunAsync(Request(ObservedCluster.Model), deadline: Deadline());
        Assert.True(run.Succeeded, run.Error);

        var metrics = await ScrapeUntil(m => m.Sum("gen_ai_server_time_to_first_token_seconds_count") >= 1 && m.Sum("gen_ai_server_time_per_output_token_seconds_count") >= 1);

        static double[] Bounds(IReadOnlyList<PrometheusSample> samples, string histogram) =>
            [.. samples.Where(s => s.Name == histogram + "_bucket").Select(s => s.Labels["le"]).Distinct()
                .Select(le => le == "+Inf" ? double.PositiveInfinity : double.Parse(le, System.Globalization.CultureInfo.InvariantCulture)).Order()];

        Assert.Equal([.. Scheduler.Silo.Telemetry.HistogramBuckets.TimeToFirstTokenSeconds, double.PositiveInfinity], Bounds(metrics, "gen_ai_server_time_to_first_token_seconds"));
        Assert.Equal([.. Scheduler.Silo.Telemetry.HistogramBuckets.TimePerOutputTokenSeconds, double.PositiveInfinity], Bounds(metrics, "gen_ai_server_time_per_output_token_seconds"));
        Assert.Equal([.. Scheduler.Silo.Telemetry.HistogramBuckets.QueueWaitSeconds, double.PositiveInfinity], Bounds(metrics, "scheduler_job_queue_wait_seconds"));
        Assert.Equal([.. Scheduler.Silo.Telemetry.HistogramBuckets.Tokens.Select(t => (double)t), double.PositiveInfinity], Bounds(metrics, "scheduler_job_token_usage"));

        // The job's first token came well within a second: a bucket below one second counts it.
        Assert.True(metrics.Sum("gen_ai_server_time_to_first_token_seconds_bucket", ("le", "1")) >= 1);
    }

    [Fact]
    public async Task FleetGauges_ShowQueuedJobsByTenantAndPriority_ReplicaLoad_AndAcceleratorsByState()
    {
        var (tenant, _) = ObservedCluster.Tenants[2];
        using var client = cluster.Tenant(2);
        using var admin = cluster.Admin();
        var critical = Request(ObservedCluster.ParkedModel);
        critical.Priority = Priority.Critical;
        var jobs = new[] { await client.SubmitAsync(critical), await client.SubmitAsync(Request(ObservedCluster.ParkedModel)), await client.SubmitAsync(Request(ObservedCluster.ParkedModel)) };
        try
        {
            var queued = (string priority) => new[] { ("gen_ai_request_model", ObservedCluster.ParkedModel), ("scheduler_tenant", tenant), ("scheduler_job_priority", priority) };
            var metrics = await ScrapeUntil(m => m.Sum("scheduler_jobs_queued", queued("standard")) == 2);
            Assert.Equal(1, metrics.Sum("scheduler_jobs_queued", queued("critical")));

            // The worker's replica, idle, as the admin API shows it.
            var replica = (await admin.ListReplicasAsync(ObservedCluster.Model)).Single(r => r.NodeId == ObservedCluster.WorkerNode);
            var ofReplica = ("scheduler_replica_id", replica.ReplicaId);
            Assert.Equal(0, metrics.Sum("scheduler_replica_running_sequences", ofReplica));
            Assert.Equal(replica.MaxSequences, metrics.Sum("scheduler_replica_free_slots", ofReplica));
            Assert.Equal(0, metrics.Sum("scheduler_replica_kv_tokens_used", ofReplica));
            Assert.Equal(replica.KvCapacityTokens, metrics.Sum("scheduler_replica_kv_tokens_capacity", ofReplica));

            // Accelerators by state: every one the admin API lists, each counted once, zeros shown for the other states.
            var accelerators = await admin.ListAcceleratorsAsync();
            var l4 = ("scheduler_accelerator_product", "L4");
            Assert.Equal(accelerators.Count(a => a.Product == "L4" && a.State == "ready"), metrics.Sum("scheduler_accelerators", l4, ("scheduler_accelerator_state", "ready")));
            Assert.True(metrics.Has("scheduler_accelerators", l4, ("scheduler_accelerator_state", "lost")));
            Assert.Equal(accelerators.Count, metrics.Sum("scheduler_accelerators"));

            // Gauges follow the fleet: a cordoned accelerator moves to "cordoned".
            var cordon = accelerators.Single(a => a.NodeId == ObservedCluster.WorkerNode).AcceleratorId;
            await admin.CordonAcceleratorAsync(cordon);
            try
            {
                await ScrapeUntil(m => m.Sum("scheduler_accelerators", l4, ("scheduler_accelerator_state", "cordoned")) >= 1);
            }
            finally
            {
                await admin.UncordonAcceleratorAsync(cordon);
            }
        }
        finally
        {
            foreach (var job in jobs)
            {
                await client.CancelAsync(job.JobId);
            }
        }

        await ScrapeUntil(m => m.Sum("scheduler_jobs_queued", ("scheduler_tenant", tenant)) == 0);
    }

    [Fact]
    public async Task OneJob_IsOneTrace_FromSubmissionOnTheSilo_ToPrefillAndDecodeOnTheWorker()
    {
        using var client = cluster.Tenant(1);
        var job = await client.RunAsync(Request(ObservedCluster.Model), deadline: Deadline());
        Assert.True(job.Succeeded);

        string[] expected = ["submit job", "queue job", "run job", "prefill", "decode"];
        IReadOnlyList<ReceivedSpan> spans = [];
        var deadline = DateTime.UtcNow + Wait;
        while (DateTime.UtcNow < deadline)
        {
            spans = [.. cluster.Receiver.Spans.Where(s => s.Attributes.GetValueOrDefault("scheduler.job.id") == job.JobId)];
            if (expected.All(name => spans.Any(s => s.Name == name)))
            {
                break;
            }

            await Task.Delay(100);
        }

        Assert.Equal(expected.Order(), spans.Select(s => s.Name).Order());
        Assert.Single(spans.Select(s => s.TraceId).Distinct());
        var byName = spans.ToDictionary(s => s.Name);
        Assert.All(expected[..3], name => Assert.Equal("scheduler-silo", byName[name].Service));
        Assert.All(expected[3..], name => Assert.Equal("scheduler-worker", byName[name].Service));

        // submit job ─┬─ queue job
        //             └─ run job ─┬─ prefill   (in the worker process)
        //                         └─ decode
        var submit = byName["submit job"].SpanId;
        var run = byName["run job"].SpanId;
        Assert.Equal(submit, byName["queue job"].ParentSpanId);
        Assert.Equal(submit, byName["run job"].ParentSpanId);
        Assert.Equal(run, byName["prefill"].ParentSpanId);
        Assert.Equal(run, byName["decode"].ParentSpanId);
        Assert.Equal("3", byName["decode"].Attributes["gen_ai.usage.output_tokens"]);
        Assert.Equal("completed", byName["run job"].Attributes["scheduler.job.outcome"]);
    }

    [Fact]
    public async Task WantedReplicas_RiseAboveTheReplicasUnderQueuedWork_AndFallWhenIdle()
    {
        using var client = cluster.Tenant(3);
        using var admin = cluster.Admin();
        var ofPool = new[] { ("gen_ai_request_model", ObservedCluster.Model), ("scheduler_worker_pool", ObservedCluster.WorkerPool), ("scheduler_accelerator_product", "L4") };

        // 60 jobs of 4,000 output tokens within the window: far more decode than one L4 gives at the target utilisation.
        var jobs = new List<string>();
        try
        {
            for (var i = 0; i < 60; i++)
            {
                jobs.Add((await client.SubmitAsync(new SubmitJobRequest { Model = ObservedCluster.Model, Prompt = "capacity", MaxTokens = 4000 })).JobId);
            }

            var busy = await CapacityUntil(admin, pool => pool.WantedReplicas > pool.Replicas);
            // Sized by the pool the worker named, its product alongside.
            var pool = busy.Pools.Single(p => p.Pool == ObservedCluster.WorkerPool);
            Assert.Equal((1, "L4"), (pool.Replicas, pool.Product));
            Assert.True(busy.OutputTokensPerSecond > 0, "the submitted output tokens count as demand");
            Assert.True(pool.BusyReplicas > pool.TargetUtilisation, $"busy {pool.BusyReplicas} should exceed one replica's {pool.TargetUtilisation}");
            Assert.StartsWith("scale up:", pool.Reason, StringComparison.Ordinal);
            await ScrapeUntil(m => m.Sum("scheduler_capacity_wanted_replicas", ofPool) > 1);
        }
        finally
        {
            foreach (var job in jobs)
            {
                await client.CancelAsync(job);
            }
        }

        // Idle: nothing queued or running and the window empty, so the pool is wanted no more.
        await cluster.WaitQuiet(ObservedCluster.Tenants[3].Id);
        var idle = await CapacityUntil(admin, pool => pool.WantedReplicas < pool.Replicas, ObservedCluster.CapacityWindow + Wait);
        Assert.Equal((0, 0L, 0L), (idle.Pools.Single(p => p.Pool == ObservedCluster.WorkerPool).WantedReplicas, idle.QueuedPromptTokens, idle.QueuedOutputTokens));
        Assert.StartsWith("scale down: idle", idle.Pools.Single(p => p.Pool == ObservedCluster.WorkerPool).Reason, StringComparison.Ordinal);
        await ScrapeUntil(m => m.Has("scheduler_capacity_wanted_replicas", ofPool) && m.Sum("scheduler_capacity_wanted_replicas", ofPool) == 0);
    }

    [Fact]
    public async Task GetCapacityAndListReplicas_ForAnUnknownModel_AreNotFoundNamingIt()
    {
        using var admin = cluster.Admin();
        var error = await Assert.ThrowsAsync<RpcException>(() => admin.GetCapacityAsync("no-such-model"));
        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        Assert.Contains("model 'no-such-model'", error.Status.Detail, StringComparison.Ordinal);

        // ListReplicas answered an empty list: a typo read as a model with no replicas.
        var replicas = await Assert.ThrowsAsync<RpcException>(() => admin.ListReplicasAsync("no-such-model"));
        Assert.Equal((StatusCode.NotFound, error.Status.Detail), (replicas.StatusCode, replicas.Status.Detail));

        // A model with no replicas has no pools to size; it is listed all the same.
        Assert.Empty((await admin.GetCapacityAsync(ObservedCluster.ParkedModel)).Single().Pools);
    }

    [Fact]
    public async Task RefusedSubmissions_AreCountedByDoorAndStatus_AtEveryDoor_AcceptedOnesAreNot()
    {
        var (tenant, key) = ObservedCluster.Tenants[ObservedCluster.CappedTenant];
        using var client = cluster.Tenant(ObservedCluster.CappedTenant);

        // SubmitJob: a field out of range, and the queue quota (one queued job allowed; the first waits on the parked model).
        var bad = Request(ObservedCluster.Model);
        bad.MaxTokens = 0;
        await Assert.ThrowsAsync<RpcException>(() => client.SubmitAsync(bad));
        var parked = await client.SubmitAsync(Request(ObservedCluster.ParkedModel));
        var overQuota = await Assert.ThrowsAsync<RpcException>(() => client.SubmitAsync(Request(ObservedCluster.ParkedModel)));
        Assert.Equal(StatusCode.ResourceExhausted, overQuota.StatusCode);
        await client.CancelAsync(parked.JobId);

        // StreamJob: an unknown model.
        var unknown = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (var _ in client.StreamAsync(Request("no-such-model")))
            {
            }
        });
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);

        // StreamJobs: a submission without a ref and one with a bad field are refused; the call and its good job go on.
        using (var call = client.StreamMany(Deadline()))
        {
            await call.RequestStream.WriteAsync(new StreamJobsRequest { Job = Request(ObservedCluster.Model) });
            await call.RequestStream.WriteAsync(new StreamJobsRequest { Ref = "bad", Job = bad });
            await call.RequestStream.WriteAsync(new StreamJobsRequest { Ref = "good", Job = Request(ObservedCluster.Model) });
            await call.RequestStream.CompleteAsync();
            var refused = 0;
            await foreach (var message in call.ResponseStream.ReadAllAsync())
            {
                refused += message.KindCase == StreamJobsResponse.KindOneofCase.Refused ? 1 : 0;
            }

            Assert.Equal(2, refused);
        }

        // The OpenAI door: a body that is not JSON, and an unknown model.
        using var http = new HttpClient { BaseAddress = new Uri(cluster.Silo.OpenAiAddress) };
        http.DefaultRequestHeaders.Authorization = new("Bearer", key);
        foreach (var (body, status) in new[] { ("{not json", 400), ("""{"model":"no-such-model","prompt":"x"}""", 404) })
        {
            using var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
            using var answer = await http.PostAsync("/v1/completions", content);
            Assert.Equal(status, (int)answer.StatusCode);
        }

        // Not a submission refused: a caller with no valid key is not a tenant's (gRPC's own status shows it).
        using (var stranger = new Scheduler.Client.SchedulerClient(cluster.Channel, "not-a-key"))
        {
            await Assert.ThrowsAsync<RpcException>(() => stranger.SubmitAsync(Request(ObservedCluster.Model)));
        }

        const string Refusals = "scheduler_submissions_refused_total";
        var byTenant = ("scheduler_tenant", tenant);
        var metrics = await ScrapeUntil(m => m.Sum(Refusals, byTenant) >= 7);
        double Refused(string door, string code) => metrics.Sum(Refusals, byTenant, ("scheduler_door", door), ("rpc_response_status_code", code));
        Assert.Equal(
            (1.0, 1.0, 1.0, 2.0, 1.0, 1.0, 7.0),
            (Refused("submit_job", "INVALID_ARGUMENT"), Refused("submit_job", "RESOURCE_EXHAUSTED"), Refused("stream_job", "NOT_FOUND"),
                Refused("stream_jobs", "INVALID_ARGUMENT"), Refused("openai", "INVALID_ARGUMENT"), Refused("openai", "NOT_FOUND"),
                metrics.Sum(Refusals, byTenant)));
    }

    private static async Task<ModelCapacitySignal> CapacityUntil(Scheduler.Client.SchedulerAdminClient admin, Func<PoolCapacity, bool> condition, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? Wait);
        while (true)
        {
            var capacity = (await admin.GetCapacityAsync(ObservedCluster.Model)).Single();
            if (capacity.Pools.Any(p => p.Pool == ObservedCluster.WorkerPool && condition(p)))
            {
                return capacity;
            }

            Assert.True(DateTime.UtcNow < deadline, $"the capacity never showed what was expected; last: {capacity}");
            await Task.Delay(200);
        }
    }

    private async Task<IReadOnlyList<PrometheusSample>> ScrapeUntil(Func<IReadOnlyList<PrometheusSample>, bool> condition)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (true)
        {
            var metrics = await cluster.ScrapeAsync();
            if (condition(metrics))
            {
                return metrics;
            }

            Assert.True(DateTime.UtcNow < deadline, "the metrics never showed what was expected");
            await Task.Delay(100);
        }
    }

    private static SubmitJobRequest Request(string model) => new() { Model = model, Prompt = "observe", MaxTokens = 3 };

    private static DateTime Deadline() => DateTime.UtcNow + Wait;

    private static async Task<bool> Pause()
    {
        await Task.Delay(100);
        return true;
    }

    private static async Task WaitStatus(Scheduler.Client.SchedulerClient client, string jobId, JobStatus status)
    {
        var deadline = DateTime.UtcNow + Wait;
        while ((await client.GetAsync(jobId)).Status != status)
        {
            Assert.True(DateTime.UtcNow < deadline, $"job {jobId} never became {status}");
            await Task.Delay(50);
        }
    }
}
