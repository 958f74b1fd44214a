using Google.Rpc;
using Grpc.Core;
using Scheduler.Client;
using Scheduler.Protos.V1;
using Scheduler.Tests.EndToEnd.Hostile;

namespace Scheduler.Tests.EndToEnd;

[Collection(SchedulerClusterCollection.Name)]
public sealed class BadInputTests(SchedulerCluster cluster)
{
    private static SubmitJobRequest Valid() => new() { Model = SchedulerCluster.Model, Prompt = "hello", MaxTokens = 4 };

    [Fact]
    public async Task SubmitJob_UnknownModel_IsNotFound()
    {
        using var client = cluster.Tenant(0);
        var request = Valid();
        request.Model = "no-such-model";
        var ex = await Assert.ThrowsAsync<RpcException>(() => client.SubmitAsync(request));
        Assert.Equal(StatusCode.NotFound, ex.StatusCode);
        Assert.Contains("no-such-model", ex.Status.Detail, StringComparison.Ordinal);

        // Machine-readable too, in the rich error model any gRPC language reads.
        var resource = ex.GetRpcStatus()?.GetDetail<ResourceInfo>();
        Assert.Equal(("model", "no-such-model"), (resource?.ResourceType, resource?.ResourceName));
    }

    [Fact]
    public async Task SubmitJob_TextsAtTheirLimitInCharacters_AreAccepted_EvenOutsideTheBasicPlane()
    {
        // 256 emoji are 256 characters, and 512 UTF-16 code units: counted as characters, as any client counts them.
        var emoji = string.Concat(Enumerable.Repeat("\U0001F600", 256));
        using var client = cluster.Tenant(0);
        var request = new SubmitJobRequest
        {
            Model = SchedulerCluster.ParkedModel, Prompt = "hello", MaxTokens = 4, Stop = emoji, StopSequences = { emoji },
            SessionId = emoji,
        };

        var job = await client.SubmitAsync(request);
        await client.CancelAsync(job.JobId);

        request.StopSequences[0] = emoji + "\U0001F600";
        AssertNamesField(await Assert.ThrowsAsync<RpcException>(() => client.SubmitAsync(request)), "stop_sequences");
    }

    [Theory]
    [InlineData("", 4, "prompt")]
    [InlineData("hello", 0, "max_tokens")]
    [InlineData("hello", -3, "max_tokens")]
    [InlineData("hello", SchedulerCluster.MaxOutputTokens + 1, "max_tokens")]
    public async Task SubmitJob_BadField_IsInvalidArgumentNamingTheField(string prompt, int maxTokens, string field)
    {
        using var client = cluster.Tenant(0);
        var request = new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = prompt, MaxTokens = maxTokens };
        AssertNamesField(await Assert.ThrowsAsync<RpcException>(() => client.SubmitAsync(request)), field);
    }

    public static TheoryData<string, Action<SubmitJobRequest>> BadSampling => new()
    {
        { "temperature", r => r.Temperature = -0.1f },
        { "temperature", r => r.Temperature = 2.01f },
        { "temperature", r => r.Temperature = float.NaN },
        { "top_p", r => r.TopP = 0 },
        { "top_p", r => r.TopP = 1.5f },
        { "top_k", r => r.TopK = -1 },
        { "stop_sequences", r => { r.Stop = "a"; r.StopSequences.Add(["b", "c", "d", "e"]); } },
        { "stop_sequences", r => r.StopSequences.Add(["b", ""]) },
        { "stop_sequences", r => r.StopSequences.Add(new string('x', 257)) },
    };

    [Theory]
    [MemberData(nameof(BadSampling))]
    [MemberData(nameof(BadChats))]
    public async Task SubmitJob_BadSamplingStopSequencesOrChat_IsInvalidArgumentNamingTheField(string field, Action<SubmitJobRequest> spoil)
    {
        using var client = cluster.Tenant(0);
        var request = Valid();
        spoil(request);
        AssertNamesField(await Assert.ThrowsAsync<RpcException>(() => client.SubmitAsync(request)), field);
    }

    private static ChatMessage Turn(string role, string content) => new() { Role = role, Content = content };

    public static TheoryData<string, Action<SubmitJobRequest>> BadChats => new()
    {
        { "prompt", r => r.Messages.Add(Turn("user", "hi")) },
        { "prompt", r => { r.Prompt = ""; r.PromptTokenIds.Add(5); r.Messages.Add(Turn("user", "hi")); } },
        { "messages[1].role", r => { r.Prompt = ""; r.Messages.Add([Turn("user", "hi"), Turn("robot", "beep")]); } },
        { "messages[0].role", r => { r.Prompt = ""; r.Messages.Add(Turn("", "hi")); } },
        { "messages", r => { r.Prompt = ""; r.Messages.Add([Turn("system", ""), Turn("user", ""), Turn("assistant", "")]); } },
        { "messages[0].content", r => { r.Prompt = ""; r.Messages.Add(Turn("user", new string('x', 5000))); } },
        { "messages", r => { r.Prompt = ""; r.Messages.Add(Enumerable.Repeat(Turn("user", "hi"), 1025)); } },
        { "messages", r => { r.Prompt = ""; r.Messages.Add(Turn("user", string.Concat(Enumerable.Repeat("hello ", 140_000)))); } },
        { "session_id", r => r.SessionId = new string('s', 257) },
    };

    [Theory]
    [InlineData(-1)]
    [InlineData(86_400_001)]
    public async Task SubmitJob_DeadlineOutOfRange_IsInvalidArgumentNamingDeadlineMs(int deadlineMs)
    {
        using var client = cluster.Tenant(0);
        var request = Valid();
        request.DeadlineMs = deadlineMs;
        AssertNamesField(await Assert.ThrowsAsync<RpcException>(() => client.SubmitAsync(request)), "deadline_ms");
    }

    [Theory]
    [InlineData(-1, 0, 0L, "quotas.max_queued_jobs:")]
    [InlineData(0, -1, 0L, "quotas.requests_per_minute:")]
    [InlineData(0, 0, -5L, "quotas.tokens_per_minute:")]
    [InlineData(0, 0, 3_000_000_000L, "quotas.tokens_per_minute:")]
    public async Task AdminPutTenant_BadQuota_IsInvalidArgumentNamingTheField(int maxQueued, int requestsPerMinute, long tokensPerMinute, string field)
    {
        using var admin = cluster.Admin();
        var request = new PutTenantRequest
        {
            TenantId = "bad-quota",
            Weight = 1,
            Quotas = new TenantQuotas { MaxQueuedJobs = maxQueued, RequestsPerMinute = requestsPerMinute, TokensPerMinute = tokensPerMinute },
        };
        var ex = await Assert.ThrowsAsync<RpcException>(() => admin.PutTenantAsync(request));
        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith(field, ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StreamJob_BadField_IsInvalidArgumentToo()
    {
        using var client = cluster.Tenant(0);
        var request = Valid();
        request.MaxTokens = 0;
        AssertNamesField(await Assert.ThrowsAsync<RpcException>(() => client.RunAsync(request)), "max_tokens");
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(SchedulerCluster.VocabularySize)]
    [InlineData(int.MaxValue)]
    public async Task SubmitJob_PromptTokenIdNegativeOrOutsideTheVocabulary_IsInvalidArgumentNamingPromptTokenIds(int id)
    {
        using var client = cluster.Tenant(0);
        var request = new SubmitJobRequest { Model = SchedulerCluster.Model, MaxTokens = 4, PromptTokenIds = { 1, 2, id, 3 } };
        var ex = await Assert.ThrowsAsync<RpcException>(() => client.SubmitAsync(request));
        AssertNamesField(ex, "prompt_token_ids");
        Assert.Contains(id < 0 ? "negative" : $"id {id} (at 2) is outside the model's vocabulary of 128,256 ids", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SubmitJob_PromptTokenIdsUpToTheVocabularysLast_AreAccepted()
    {
        using var client = cluster.Tenant(0);
        var request = new SubmitJobRequest { Model = SchedulerCluster.Model, MaxTokens = 1, PromptTokenIds = { 0, SchedulerCluster.VocabularySize - 1 } };
        var job = await client.SubmitAsync(request);
        Assert.StartsWith("job-", job.JobId, StringComparison.Ordinal);
        await client.CancelAsync(job.JobId);
    }

    [Fact]
    public async Task SubmitJob_BothPromptAndTokenIds_IsInvalidArgument()
    {
        using var client = cluster.Tenant(0);
        var request = Valid();
        request.PromptTokenIds.Add(5);
        var ex = await Assert.ThrowsAsync<RpcException>(() => client.SubmitAsync(request));
        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Contains("prompt", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SubmitJob_PromptLongerThanContext_IsInvalidArgument_WithTheContextLengthReason()
    {
        var ex = await RefusedNamingPrompt(TokenIds(SchedulerCluster.Model, 131_070, maxTokens: 4), StatusCode.InvalidArgument);

        Assert.Equal("prompt", Assert.Single(ex.GetRpcStatus()?.GetDetail<BadRequest>()?.FieldViolations ?? []).Field);
        AssertContextLengthReason(ex);
    }

    [Fact]
    public async Task SubmitJob_LargerThanEveryReplicasKvCache_IsFailedPreconditionNamingPrompt()
    {
        // The scripted model's context is 131,072 tokens, but its only replicas hold 100,000 tokens of KV cache.
        await using var node = await FakeWorkerNode.StartRegisteredAsync(cluster, "small-kv", SchedulerCluster.ScriptedModel);

        var ex = await RefusedNamingPrompt(TokenIds(SchedulerCluster.ScriptedModel, 100_000, maxTokens: 8), StatusCode.FailedPrecondition);

        Assert.Contains("100000", ex.Status.Detail, StringComparison.Ordinal);
        var violation = Assert.Single(ex.GetRpcStatus()?.GetDetail<PreconditionFailure>()?.Violations ?? []);
        Assert.Equal(("KV_CACHE_CAPACITY", "prompt"), (violation.Type, violation.Subject));
        AssertContextLengthReason(ex);
    }

    [Fact]
    public async Task SubmitJob_AnIdempotencyKeyReusedForAnotherRequest_IsAlreadyExistsNamingTheKey_WithItsReason()
    {
        using var client = cluster.Tenant(0);
        var key = "reused-" + Guid.NewGuid().ToString("N");
        var first = await client.SubmitAsync(new SubmitJobRequest { Model = SchedulerCluster.ParkedModel, Prompt = "first", MaxTokens = 4, IdempotencyKey = key });

        var ex = await Assert.ThrowsAsync<RpcException>(() => client.SubmitAsync(
            new SubmitJobRequest { Model = SchedulerCluster.ParkedModel, Prompt = "first", MaxTokens = 4, IdempotencyKey = key, Temperature = 0.5f }));

        Assert.Equal(StatusCode.AlreadyExists, ex.StatusCode);
        Assert.StartsWith($"idempotency_key: already used for job '{first.JobId}'", ex.Status.Detail, StringComparison.Ordinal);
        var info = ex.GetRpcStatus()?.GetDetail<ErrorInfo>();
        Assert.Equal(("IDEMPOTENCY_KEY_REUSED", "scheduler.v1"), (info?.Reason, info?.Domain));
        await client.CancelAsync(first.JobId);
    }

    [Fact]
    public async Task AnyCall_WrongKey_IsUnauthenticated()
    {
        using var client = cluster.ClientWithKey("tenant-a-key-but-wrong");
        var ex = await Assert.ThrowsAsync<RpcException>(() => client.SubmitAsync(Valid()));
        Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode);
    }

    [Fact]
    public async Task AnyCall_MissingKey_IsUnauthenticated()
    {
        var raw = new InferenceService.InferenceServiceClient(cluster.Channel);
        var ex = await Assert.ThrowsAsync<RpcException>(() => raw.SubmitJobAsync(Valid()).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode);
        Assert.Contains("authorization", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OtherTenantsJob_IsNotFound_ForGetWatchAndCancel()
    {
        using var owner = cluster.Tenant(0);
        using var stranger = cluster.Tenant(1);
        var job = await owner.SubmitAsync(Valid());

        var get = await Assert.ThrowsAsync<RpcException>(() => stranger.GetAsync(job.JobId));
        Assert.Equal(StatusCode.NotFound, get.StatusCode);
        var cancel = await Assert.ThrowsAsync<RpcException>(() => stranger.CancelAsync(job.JobId));
        Assert.Equal(StatusCode.NotFound, cancel.StatusCode);
        var watch = await Assert.ThrowsAsync<RpcException>(() => stranger.AttachAsync(job.JobId));
        Assert.Equal(StatusCode.NotFound, watch.StatusCode);

        // Indistinguishable from a job that never existed.
        var missing = await Assert.ThrowsAsync<RpcException>(() => stranger.GetAsync("job-does-not-exist"));
        Assert.Equal(missing.Status.Detail.Replace("job-does-not-exist", job.JobId, StringComparison.Ordinal), get.Status.Detail);
    }

    [Fact]
    public async Task AdminService_WithTenantKey_IsPermissionDenied()
    {
        using var admin = new SchedulerAdminClient(cluster.Channel, SchedulerCluster.Tenants[0].Key);
        var ex = await Assert.ThrowsAsync<RpcException>(() => admin.ListTenantsAsync());
        Assert.Equal(StatusCode.PermissionDenied, ex.StatusCode);
    }

    [Fact]
    public async Task AdminService_WithUnknownKey_IsUnauthenticated()
    {
        using var admin = new SchedulerAdminClient(cluster.Channel, "not-a-key-at-all");
        var ex = await Assert.ThrowsAsync<RpcException>(() => admin.GetClusterSummaryAsync());
        Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode);
    }

    [Fact]
    public async Task SubmitJob_OverMaxQueuedQuota_IsResourceExhaustedWithRetryHint()
    {
        using var client = cluster.ClientWithKey(SchedulerCluster.CappedKey);
        var parked = new SubmitJobRequest { Model = SchedulerCluster.ParkedModel, Prompt = "wait", MaxTokens = 4 };

        // The parked model has no replica: these two stay queued and fill the quota of two.
        var first = await client.SubmitAsync(parked);
        var second = await client.SubmitAsync(parked);
        var ex = await Assert.ThrowsAsync<RpcException>(() => client.SubmitAsync(parked));
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        Assert.Contains("max_queued_jobs", ex.Status.Detail, StringComparison.Ordinal);
        var retryAfterMs = long.Parse(ex.Trailers.GetValue("retry-after-ms")!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(TimeSpan.FromMilliseconds(retryAfterMs), ex.GetRpcStatus()?.GetDetail<RetryInfo>()?.RetryDelay.ToTimeSpan());

        // Cancelling a queued job frees its place in the quota.
        Assert.Equal(JobStatus.Cancelled, (await client.CancelAsync(first.JobId)).Status);
        var third = await client.SubmitAsync(parked);
        Assert.Equal(JobStatus.Queued, third.Status);
        await client.CancelAsync(second.JobId);
        await client.CancelAsync(third.JobId);
    }

    [Fact]
    public async Task AdminPutTenant_BadWeight_IsInvalidArgument()
    {
        using var admin = cluster.Admin();
        var ex = await Assert.ThrowsAsync<RpcException>(() => admin.PutTenantAsync(new PutTenantRequest { TenantId = "x", Weight = -1 }));
        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith("weight:", ex.Status.Detail, StringComparison.Ordinal);
    }

    /// <summary>INVALID_ARGUMENT naming <paramref name="field"/> in words and in the rich error model's BadRequest.</summary>
    private static void AssertNamesField(RpcException ex, string field)
    {
        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith(field + ":", ex.Status.Detail, StringComparison.Ordinal);
        var violation = Assert.Single(ex.GetRpcStatus()?.GetDetail<BadRequest>()?.FieldViolations ?? []);
        Assert.Equal(field, violation.Field);
        Assert.Equal(ex.Status.Detail[(field.Length + 2)..], violation.Description);
    }

    private static SubmitJobRequest TokenIds(string model, int count, int maxTokens)
    {
        var request = new SubmitJobRequest { Model = model, MaxTokens = maxTokens };
        request.PromptTokenIds.AddRange(Enumerable.Repeat(1, count));
        return request;
    }

    /// <summary>Both refusals of a prompt that does not fit say so in an ErrorInfo, which a client reads without parsing
    /// the message (the OpenAI door's context_length_exceeded).</summary>
    private static void AssertContextLengthReason(RpcException ex)
    {
        var info = ex.GetRpcStatus()?.GetDetail<ErrorInfo>();
        Assert.Equal(("CONTEXT_LENGTH_EXCEEDED", "scheduler.v1"), (info?.Reason, info?.Domain));
    }

    private async Task<RpcException> RefusedNamingPrompt(SubmitJobRequest request, StatusCode status)
    {
        using var client = cluster.Tenant(0);
        var ex = await Assert.ThrowsAsync<RpcException>(() => client.SubmitAsync(request));
        Assert.Equal(status, ex.StatusCode);
        Assert.StartsWith("prompt:", ex.Status.Detail, StringComparison.Ordinal);
        return ex;
    }
}
