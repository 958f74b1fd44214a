using Grpc.Core;
using Scheduler.Protos.Errors;
using Scheduler.Protos.V1;
using Scheduler.Silo.Api;

namespace Scheduler.Tests.EndToEnd;

/// <summary>StreamJobs: many jobs submitted over one call, their events multiplexed back on it, over real gRPC with
/// worker processes.</summary>
[Collection(SchedulerClusterCollection.Name)]
public sealed class StreamJobsTests(SchedulerCluster cluster)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task StreamJobs_150JobsOnOneCall_EachGetsItsEventsInOrderUnderItsRef_AndTheCallEndsOkAfterTheLast()
    {
        const int Jobs = 150;
        using var client = cluster.Tenant(1);
        using var call = client.StreamMany(DateTime.UtcNow + Patience);
        var requests = Enumerable.Range(0, Jobs).Select(i => new StreamJobsRequest
        {
            Ref = "r" + i,
            Job = new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "multiplexed " + i, MaxTokens = 1 + (i % 12) },
        }).ToList();

        // Everything is sent before anything is read, and the client's side closed: the call must still deliver every
        // job's whole story and then end by itself.
        foreach (var request in requests)
        {
            await call.RequestStream.WriteAsync(request);
        }

        await call.RequestStream.CompleteAsync();
        var byRef = new Dictionary<string, List<JobEvent>>();
        await foreach (var message in call.ResponseStream.ReadAllAsync())
        {
            Assert.Equal(StreamJobsResponse.KindOneofCase.Event, message.KindCase);
            (byRef.TryGetValue(message.Ref, out var events) ? events : byRef[message.Ref] = []).Add(message.Event);
        }

        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        Assert.Equal(requests.Select(r => r.Ref).Order(), byRef.Keys.Order());
        foreach (var request in requests)
        {
            var events = byRef[request.Ref];
            Assert.Null(JobFlowTests.OrderViolation(events, request.Job.MaxTokens));
            Assert.Single(events.Select(e => e.JobId).Distinct());
            Assert.Equal(JobEvent.EventOneofCase.Completed, events[^1].EventCase);
        }

        // One job per submission, each its own, and each the tenant's like any other.
        var jobIds = byRef.Values.Select(e => e[0].JobId).ToList();
        Assert.Equal(Jobs, jobIds.Distinct().Count());
        var job = await client.GetAsync(jobIds[7]);
        Assert.Equal(JobStatus.Completed, job.Status);
    }

    public static TheoryData<int> Seeds => new() { 20261204, 7 };

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task StreamJobs_GoodAndBadSubmissionsMixed_EachAnsweredOnce_RefusedOnesWithTheirField_AcceptedOnesCompleteInOrder(int seed)
    {
        // A seeded mix sent as fast as the call takes it: each submission is refused once (nothing else under its ref)
        // or runs its whole story once; none is lost, none answered twice, and the call ends OK after the last.
        (string Field, StatusCode Code, Action<SubmitJobRequest> Spoil)[] spoilers =
        [
            ("max_tokens", StatusCode.InvalidArgument, r => r.MaxTokens = 0),
            ("prompt", StatusCode.InvalidArgument, r => r.Prompt = ""),
            ("temperature", StatusCode.InvalidArgument, r => r.Temperature = 9),
            ("model", StatusCode.NotFound, r => r.Model = "no-such-model"),
            ("stop_sequences", StatusCode.InvalidArgument, r => r.StopSequences.Add(new string('x', 257))),
        ];
        var random = new Random(seed);
        var expected = new Dictionary<string, (int Tokens, (string Field, StatusCode Code)? Refusal)>();
        using var client = cluster.Tenant(2);
        using var call = client.StreamMany(DateTime.UtcNow + Patience);
        for (var i = 0; i < 120; i++)
        {
            var request = new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = $"mixed {seed} {i}", MaxTokens = random.Next(1, 9) };
            (string, StatusCode)? refusal = null;
            if (random.NextDouble() < 0.3)
            {
                var (field, code, spoil) = spoilers[random.Next(spoilers.Length)];
                spoil(request);
                refusal = (field, code);
            }

            expected["m" + i] = (request.MaxTokens, refusal);
            await call.RequestStream.WriteAsync(new StreamJobsRequest { Ref = "m" + i, Job = request });
        }

        await call.RequestStream.CompleteAsync();
        var byRef = new Dictionary<string, List<StreamJobsResponse>>();
        await foreach (var message in call.ResponseStream.ReadAllAsync())
        {
            (byRef.TryGetValue(message.Ref, out var messages) ? messages : byRef[message.Ref] = []).Add(message);
        }

        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        Assert.Equal(expected.Keys.Order(), byRef.Keys.Order());
        foreach (var (reference, (tokens, refusal)) in expected)
        {
            var messages = byRef[reference];
            if (refusal is var (field, code))
            {
                var refused = Assert.Single(messages).Refused;
                Assert.NotNull(refused);
                Assert.Equal((int)code, refused.Code);
                Assert.Contains(field, refused.Message, StringComparison.Ordinal);
            }
            else
            {
                Assert.All(messages, m => Assert.Null(m.Refused));
                Assert.Null(JobFlowTests.OrderViolation([.. messages.Select(m => m.Event)], tokens));
            }
        }
    }

    [Fact]
    public async Task StreamJobs_BadSubmissions_AreRefusedWithTheirCodeNamingTheField_AndTheCallGoesOn()
    {
        using var client = cluster.Tenant(0);
        using var call = client.StreamMany(DateTime.UtcNow + Patience);
        var parked = new SubmitJobRequest { Model = SchedulerCluster.ParkedModel, Prompt = "wait", MaxTokens = 4 };
        var good = new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "fine", MaxTokens = 3 };
        var longRef = new string('x', 300);
        var messages = new List<StreamJobsResponse>();
        var reading = Task.Run(async () =>
        {
            await foreach (var message in call.ResponseStream.ReadAllAsync())
            {
                lock (messages)
                {
                    messages.Add(message);
                }
            }
        });

        await call.RequestStream.WriteAsync(new StreamJobsRequest { Ref = "parked", Job = parked });
        await call.RequestStream.WriteAsync(new StreamJobsRequest { Ref = "parked", Job = good });
        await call.RequestStream.WriteAsync(new StreamJobsRequest { Ref = "", Job = good });
        await call.RequestStream.WriteAsync(new StreamJobsRequest { Ref = longRef, Job = good });
        await call.RequestStream.WriteAsync(new StreamJobsRequest { Ref = "no-job" });
        await call.RequestStream.WriteAsync(new StreamJobsRequest { Ref = "zero-tokens", Job = new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "x" } });
        await call.RequestStream.WriteAsync(new StreamJobsRequest { Ref = "no-model", Job = new SubmitJobRequest { Model = "no-such-model", Prompt = "x", MaxTokens = 1 } });
        await call.RequestStream.WriteAsync(new StreamJobsRequest { Ref = "good", Job = good });

        // The good job completes while the parked one waits; then cancelling the parked job ends the call.
        StreamJobsResponse? Seen(Func<StreamJobsResponse, bool> match)
        {
            lock (messages)
            {
                return messages.FirstOrDefault(match);
            }
        }

        static bool ParkedQueued(StreamJobsResponse m) => m.Ref == "parked" && m.Event?.Queued is not null;
        await Polling.Until(() => Seen(ParkedQueued) is not null, "the parked job queued", TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(100));
        await Polling.Until(() => Seen(m => m.Ref == "good" && m.Event?.Completed is not null) is not null, "the good job completed", TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(100));
        await client.CancelAsync(Seen(ParkedQueued)!.Event.JobId);

        await call.RequestStream.CompleteAsync();
        await reading;
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);

        StreamJobsResponse Refusal(string reference) => Assert.Single(messages, m => m.Ref == reference && m.Refused is not null);
        AssertRefused(Refusal("parked"), StatusCode.InvalidArgument, "ref");

        // The reused ref's refusal comes after the open submission's first message, so a client reading a ref's first
        // message as its submission's fate reads "queued" (it came first, from an outside probe, in 3 runs of 3).
        Assert.NotNull(messages.First(m => m.Ref == "parked").Event?.Queued);
        AssertRefused(Refusal(""), StatusCode.InvalidArgument, "ref");
        AssertRefused(Refusal(longRef[..JobMultiplexer.MaxRefLength]), StatusCode.InvalidArgument, "ref");
        AssertRefused(Refusal("no-job"), StatusCode.InvalidArgument, "job");
        AssertRefused(Refusal("zero-tokens"), StatusCode.InvalidArgument, "max_tokens");
        Assert.Equal("", Refusal("zero-tokens").Refused.Reason);
        Assert.Equal((int)StatusCode.NotFound, Refusal("no-model").Refused.Code);
        Assert.Contains("no-such-model", Refusal("no-model").Refused.Message, StringComparison.Ordinal);

        // The refused submissions got nothing else; the parked job ended cancelled, under its ref.
        Assert.DoesNotContain(messages, m => m.Ref is "" or "no-job" or "zero-tokens" or "no-model" && m.Event is not null);
        Assert.Equal(JobEvent.EventOneofCase.Cancelled, messages.Last(m => m.Ref == "parked" && m.Event is not null).Event.EventCase);
    }

    /// <summary>A ref's limit is in characters; its echo was cut at 256 UTF-16 code units, so a refused submission whose
    /// ref had 201 emoji came back under another ref (128 emoji and U+FFFD), one the client never sent (a probe from
    /// Node).</summary>
    [Fact]
    public async Task StreamJobs_RefsOfCharactersOutsideTheBmp_AreEchoedAsSent_OrCutToTheirFirst256Characters()
    {
        using var client = cluster.Tenant(0);
        using var call = client.StreamMany(DateTime.UtcNow + Patience);
        var emoji = string.Concat(Enumerable.Repeat("\U0001F600", JobMultiplexer.MaxRefLength));
        var atTheLimit = "a" + emoji[..^2];
        var overTheLimit = "b" + emoji;
        var zeroTokens = new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "x" };
        await call.RequestStream.WriteAsync(new StreamJobsRequest { Ref = atTheLimit, Job = zeroTokens });
        await call.RequestStream.WriteAsync(new StreamJobsRequest { Ref = overTheLimit, Job = zeroTokens });
        await call.RequestStream.CompleteAsync();

        var messages = await call.ResponseStream.ReadAllAsync().ToListAsync();
        Assert.Equal(2, messages.Count);
        AssertRefused(Assert.Single(messages, m => m.Ref == atTheLimit), StatusCode.InvalidArgument, "max_tokens");
        AssertRefused(Assert.Single(messages, m => m.Ref == overTheLimit[..^2]), StatusCode.InvalidArgument, "ref");
    }

    [Fact]
    public async Task StreamJobs_OverTheTenantsQueueQuota_IsRefusedResourceExhaustedWithARetryHint()
    {
        using var client = cluster.ClientWithKey(SchedulerCluster.CappedKey);
        using var call = client.StreamMany(DateTime.UtcNow + Patience);
        var parked = new SubmitJobRequest { Model = SchedulerCluster.ParkedModel, Prompt = "wait", MaxTokens = 4 };
        for (var i = 0; i < 3; i++)
        {
            await call.RequestStream.WriteAsync(new StreamJobsRequest { Ref = "p" + i, Job = parked });
        }

        var queued = new List<string>();
        var queuedRefs = new List<string>();
        StreamJobsResponse? refused = null;
        while (refused is null || queued.Count < 2)
        {
            Assert.True(await call.ResponseStream.MoveNext());
            var message = call.ResponseStream.Current;
            if (message.Refused is not null)
            {
                refused = message;
            }
            else if (message.Event.Queued is not null)
            {
                queued.Add(message.Event.JobId);
                queuedRefs.Add(message.Ref);
            }
        }

        // Accepted concurrently: any one of the three may be the one over the quota, but only one is.
        Assert.Equal(["p0", "p1", "p2"], queuedRefs.Append(refused.Ref).Order());
        Assert.Equal((int)StatusCode.ResourceExhausted, refused.Refused.Code);
        Assert.Contains("max_queued_jobs", refused.Refused.Message, StringComparison.Ordinal);
        Assert.True(refused.Refused.RetryAfterMs > 0);
        Assert.Equal((ErrorReasons.RateLimitExceeded, "max_queued_jobs", "2"), (refused.Refused.Reason, refused.Refused.Metadata["quota"], refused.Refused.Metadata["limit"]));

        // The tenant has no per-minute quotas, so there is no standing against them to tell.
        Assert.Equal((null, null), (refused.Refused.Requests, refused.Refused.Tokens));

        // Leaving the call does not take the jobs with it: they stay queued until cancelled.
        call.Dispose();
        foreach (var jobId in queued)
        {
            Assert.Equal(JobStatus.Queued, (await client.GetAsync(jobId)).Status);
            Assert.Equal(JobStatus.Cancelled, (await client.CancelAsync(jobId)).Status);
        }
    }

    [Fact]
    public async Task StreamJobs_OverRequestsPerMinute_IsRefusedWithTheQuotaAndWhereTheTenantStands_AsSubmitJobsTrailersSayIt()
    {
        // A client pacing its submissions reads the limits, what is left and when they are whole again from the
        // refusal, as SubmitJob's caller reads its x-ratelimit trailers (it had only the status and the retry hint).
        var key = await cluster.NewTenantKey("stream-rpm", new TenantQuotas { RequestsPerMinute = 2, TokensPerMinute = 100_000 });
        using var client = cluster.ClientWithKey(key);
        using var call = client.StreamMany(DateTime.UtcNow + Patience);
        var parked = new SubmitJobRequest { Model = SchedulerCluster.ParkedModel, Prompt = "wait", MaxTokens = 4 };
        for (var i = 0; i < 3; i++)
        {
            await call.RequestStream.WriteAsync(new StreamJobsRequest { Ref = "r" + i, Job = parked });
        }

        var queued = new List<string>();
        SubmissionRefused? refused = null;
        while (refused is null || queued.Count < 2)
        {
            Assert.True(await call.ResponseStream.MoveNext());
            var message = call.ResponseStream.Current;
            if (message.Refused is not null)
            {
                refused = message.Refused;
            }
            else if (message.Event.Queued is not null)
            {
                queued.Add(message.Event.JobId);
            }
        }

        Assert.Equal((int)StatusCode.ResourceExhausted, refused.Code);
        Assert.InRange(refused.RetryAfterMs, 1, 30_000);
        Assert.Equal((ErrorReasons.RateLimitExceeded, "requests_per_minute", "2"), (refused.Reason, refused.Metadata["quota"], refused.Metadata["limit"]));
        Assert.Equal((2, 0), (refused.Requests.Limit, refused.Requests.Remaining));
        Assert.InRange(refused.Requests.ResetMs, refused.RetryAfterMs, 60_000);
        Assert.Equal(100_000, refused.Tokens.Limit);

        // The tokens bucket refills 10 tokens in 6 ms: the two jobs' tokens may be back already.
        Assert.InRange(refused.Tokens.Remaining, 100_000 - 2 * 64, 100_000);
        Assert.InRange(refused.Tokens.ResetMs, 0, 60_000);

        call.Dispose();
        foreach (var jobId in queued)
        {
            Assert.Equal(JobStatus.Cancelled, (await client.CancelAsync(jobId)).Status);
        }
    }

    [Fact]
    public async Task StreamJobs_AnIdempotencyKeyReusedForAnotherRequest_IsRefusedAlreadyExists_NamingTheField()
    {
        using var client = cluster.Tenant(0);
        var key = "reused-" + Guid.NewGuid().ToString("N");
        var first = await client.SubmitAsync(new SubmitJobRequest { Model = SchedulerCluster.ParkedModel, Prompt = "first", MaxTokens = 4, IdempotencyKey = key });
        using var call = client.StreamMany(DateTime.UtcNow + Patience);

        await call.RequestStream.WriteAsync(new StreamJobsRequest
        {
            Ref = "reused", Job = new SubmitJobRequest { Model = SchedulerCluster.ParkedModel, Prompt = "second", MaxTokens = 4, IdempotencyKey = key },
        });
        await call.RequestStream.CompleteAsync();

        Assert.True(await call.ResponseStream.MoveNext());
        AssertRefused(call.ResponseStream.Current, StatusCode.AlreadyExists, "idempotency_key");
        Assert.Equal(ErrorReasons.IdempotencyKeyReused, call.ResponseStream.Current.Refused.Reason);
        Assert.False(await call.ResponseStream.MoveNext());
        await client.CancelAsync(first.JobId);
    }

    [Fact]
    public async Task StreamJobs_WithoutAKey_IsUnauthenticated()
    {
        var client = new InferenceService.InferenceServiceClient(cluster.Channel);
        using var call = client.StreamJobs(deadline: DateTime.UtcNow + Patience);
        var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext());
        Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode);
    }

    private static void AssertRefused(StreamJobsResponse message, StatusCode code, string field)
    {
        Assert.Equal((int)code, message.Refused.Code);
        Assert.StartsWith(field + ":", message.Refused.Message, StringComparison.Ordinal);
        Assert.Equal(field, message.Refused.Field);
        Assert.Equal(0, message.Refused.RetryAfterMs);
    }
}
