using System.Collections.Concurrent;
using System.Text;
using System.Text.RegularExpressions;
using CsCheck;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Scheduler.Client;
using Scheduler.Protos.V1;
using Scheduler.Silo.Streaming;
using Xunit.Abstractions;

namespace Scheduler.Tests.EndToEnd.Hostile;

/// <summary>
/// A seeded fuzz of the gRPC surface: CsCheck generates a fixed sequence of tenant and admin calls with random
/// fields — valid and unknown models, odd unicode, negative and huge numbers, undefined enum values, reused
/// idempotency keys, other people's and made-up job ids — sends them over real gRPC in concurrent waves, and checks
/// that every answer is a consistent OK or one of the documented statuses, never UNKNOWN or INTERNAL; then that the
/// silo still serves and every accepted job is accounted for. Set FUZZ_SEED to run another seed (a failure prints
/// its seed and the calls).
/// </summary>
[Collection(SchedulerClusterCollection.Name)]
public sealed partial class GrpcSurfaceFuzzTests(SchedulerCluster cluster, ITestOutputHelper output)
{
    private const int Operations = 360;
    private const int Wave = 24;
    private static readonly TimeSpan StreamPeek = TimeSpan.FromMilliseconds(800);

    private static readonly StatusCode[] Documented =
    [
        StatusCode.InvalidArgument, StatusCode.NotFound, StatusCode.ResourceExhausted, StatusCode.Unauthenticated,
        StatusCode.PermissionDenied, StatusCode.DeadlineExceeded, StatusCode.AlreadyExists,
    ];

    private readonly ConcurrentDictionary<string, string> _jobByKey = new(StringComparer.Ordinal);
    private readonly List<string> _accepted = [];
    private string _tenant = "";

    // Fixed seeds, so CI replays the same calls; the second found a blank job id answered with INTERNAL.
    [Theory]
    [InlineData("0N0XIzNsQ0O2")]
    [InlineData("aB3dE5gH7jK9")]
    public async Task RandomCalls_AreAnsweredOkOrWithADocumentedStatus_AndTheSiloKeepsServing(string fixedSeed)
    {
        var seed = Environment.GetEnvironmentVariable("FUZZ_SEED") is { Length: > 0 } s ? s : fixedSeed;
        _tenant = "fuzz-" + Guid.NewGuid().ToString("N")[..8];
        var key = _tenant + "-key";
        using var admin = cluster.Admin();
        await admin.PutTenantAsync(new PutTenantRequest { TenantId = _tenant, Weight = 1, ApiKey = key, Quotas = new TenantQuotas { MaxQueuedJobs = 10_000 } });
        using var client = new SchedulerClient(cluster.Channel, key);
        var raw = new InferenceService.InferenceServiceClient(cluster.Channel);
        var auth = new Metadata { { "authorization", "Bearer " + key } };

        var counts = new ConcurrentDictionary<string, int>();
        try
        {
            await GenOperation.Array[Operations, Operations].SampleAsync(
                async ops =>
                {
                    foreach (var wave in ops.Chunk(Wave))
                    {
                        await Task.WhenAll(wave.Select(async op => counts.AddOrUpdate(await Run(op, raw, auth, admin), 1, (_, n) => n + 1)));
                    }
                },
                seed: seed,
                iter: 1,
                threads: 1,
                print: ops => string.Join('\n', ops.Select(Describe)));
        }
        finally
        {
            output.WriteLine($"seed {seed}: " + string.Join(", ", counts.OrderBy(c => c.Key).Select(c => $"{c.Key} {c.Value}")));
        }

        // Still serving: a plain job completes, and every accepted job can be cancelled or has finished.
        var plain = await client.RunAsync(new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "after the fuzz", MaxTokens = 3 }, deadline: DateTime.UtcNow.AddSeconds(30));
        Assert.True(plain.Succeeded, $"{plain.Status} {plain.Error}");
        foreach (var id in _accepted.Distinct())
        {
            await client.CancelAsync(id);
        }

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await admin.GetTenantAsync(_tenant) is { } t && (t.QueuedJobs != 0 || t.RunningJobs != 0))
        {
            Assert.True(DateTime.UtcNow < deadline, $"fuzz tenant still has {t.QueuedJobs} queued and {t.RunningJobs} running jobs");
            await Task.Delay(100);
        }

        var hub = cluster.SiloServices.GetRequiredService<JobEventHub>();
        deadline = DateTime.UtcNow.AddSeconds(10);
        while (hub.SubscribedJobs != 0)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{hub.SubscribedJobs} jobs still have stream subscriptions");
            await Task.Delay(100);
        }
    }

    // ---- the generated calls ----

    internal abstract record Op;

    internal sealed record SubmitOp(SubmitJobRequest Request, bool Stream) : Op;

    internal sealed record JobOp(string Kind, int? Known, string Raw, int FromToken) : Op;

    internal sealed record AdminOp(string Kind, string Id, double Weight, int Quota, string ApiKey) : Op;

    private static readonly Gen<string> Odd = Gen.OneOf(
        Gen.Const("👩‍👩‍👧‍👦"), Gen.Const("e\u0301\u0301"), Gen.Const("\u202Eevil"), Gen.Const("\0"), Gen.Const("\uFFFF"),
        Gen.Const("\uFEFF"), Gen.Const("\u200B"), Gen.Const("\uD800"), Gen.Const("\uDC00x"), Gen.Const(" "), Gen.Const("\n"),
        Gen.Const("../../etc/passwd"), Gen.Const("%s%n"), Gen.Const("job-00000000000000000000000000000000"));

    private static readonly Gen<string> AnyText = Gen.Frequency(
        (1, Gen.Const("")),
        (2, Gen.String[0, 40]),
        (2, Gen.Char.Array[0, 40].Select(c => new string(c))),
        (2, Odd.Array[1, 6].Select(string.Concat)),
        (1, Gen.Int[250, 4000].Select(n => new string('z', n))));

    private static readonly Gen<int> AnyInt = Gen.Frequency(
        (4, Gen.Int[-3, 24]),
        (1, Gen.Int),
        (1, Gen.OneOf(Gen.Const(int.MaxValue), Gen.Const(int.MinValue), Gen.Const(-1), Gen.Const(0))),
        (1, Gen.Int[500, 530]));

    private static readonly Gen<SubmitJobRequest> GenRequest =
        Gen.Select(
            Gen.Frequency((8, Gen.Const(SchedulerCluster.Model)), (1, Gen.Const(SchedulerCluster.ParkedModel)), (1, Gen.Const("LLAMA-3.1-8B")), (1, AnyText)),
            Gen.Frequency((5, Gen.Int[0, 999].Select(i => "hello " + i)), (3, AnyText), (2, Gen.Const(""))),
            Gen.Frequency((6, Gen.Const(Array.Empty<int>())), (2, Gen.Int[0, 100_000].Array[1, 30]), (1, AnyInt.Array[1, 30]), (1, Gen.Const(Enumerable.Repeat(7, 9_000).ToArray()))),
            Gen.Frequency((3, Gen.Int[1, 16]), (1, AnyInt)),
            Gen.Frequency((3, Gen.Int[0, 3]), (1, Gen.Int[-2, 6])),
            Gen.Frequency((3, Gen.Int[0, 5000]), (1, AnyInt)),
            Gen.Frequency((4, Gen.Const("")), (3, Gen.Int[0, 6].Select(i => "key-" + i)), (1, AnyText), (1, Gen.Const(new string('k', 300)))),
            Gen.Frequency((4, Gen.Const("")), (2, AnyText), (1, Gen.Const(new string('s', 300)))))
        .Select((model, prompt, ids, maxTokens, priority, ttft, key, stop) =>
        {
            var request = new SubmitJobRequest { Model = model, Prompt = prompt, MaxTokens = maxTokens, Priority = (Priority)priority, TtftObjectiveMs = ttft, IdempotencyKey = key, Stop = stop };
            request.PromptTokenIds.AddRange(ids);
            return request;
        });

    private static readonly Gen<Op> GenOperation = Gen.Frequency(
        (6, Gen.Select(GenRequest, Gen.Bool, (r, stream) => (Op)new SubmitOp(r, stream))),
        (4, Gen.Select(
            Gen.OneOf(Gen.Const("get"), Gen.Const("watch"), Gen.Const("cancel")),
            Gen.Frequency((3, Gen.Int[0, 1000].Select(i => (int?)i)), (1, Gen.Const((int?)null))),
            AnyText,
            AnyInt,
            (kind, known, rawId, from) => (Op)new JobOp(kind, known, rawId, from))),
        (2, Gen.Select(
            Gen.OneOf(Gen.Const("get-tenant"), Gen.Const("put-tenant"), Gen.Const("get-accelerator"), Gen.Const("cordon"), Gen.Const("get-replica"), Gen.Const("list-replicas"), Gen.Const("summary"), Gen.Const("list-models")),
            Gen.Frequency((3, Gen.Int[0, 99].Select(i => "fuzz-id-" + i)), (2, AnyText)),
            Gen.Frequency((3, Gen.Double[0.1, 10]), (1, Gen.OneOf(Gen.Const(-1.0), Gen.Const(double.NaN), Gen.Const(double.PositiveInfinity), Gen.Const(0.0)))),
            AnyInt,
            Gen.Frequency((2, Gen.Const("")), (1, AnyText)),
            (kind, id, weight, quota, apiKey) => (Op)new AdminOp(kind, id, weight, quota, apiKey))));

    /// <summary>An operation as printable ASCII (protobuf's own JSON formatter refuses lone surrogates).</summary>
    private static string Describe(Op op) => op switch
    {
        SubmitOp { Request: var r } s =>
            $"{(s.Stream ? "StreamJob" : "SubmitJob")}(model={Escape(r.Model)}, prompt={Escape(r.Prompt)}, ids=[{string.Join(',', r.PromptTokenIds.Take(8))}{(r.PromptTokenIds.Count > 8 ? $",… {r.PromptTokenIds.Count}" : "")}], " +
            $"max_tokens={r.MaxTokens}, priority={(int)r.Priority}, ttft={r.TtftObjectiveMs}, key={Escape(r.IdempotencyKey)}, stop={Escape(r.Stop)})",
        JobOp j => $"{j.Kind}(known={j.Known}, raw={Escape(j.Raw)}, from={j.FromToken})",
        AdminOp a => $"{a.Kind}(id={Escape(a.Id)}, weight={a.Weight}, quota={a.Quota}, api_key={Escape(a.ApiKey)})",
        _ => op.GetType().Name,
    };

    private static string Escape(string s)
    {
        var shown = string.Concat(s.Take(48).Select(c => c is >= ' ' and <= '~' ? c.ToString() : $"\\u{(int)c:X4}"));
        return $"\"{shown}\"" + (s.Length > 48 ? $"…({s.Length})" : "");
    }

    // ---- running one call and checking its answer ----

    private async Task<string> Run(Op op, InferenceService.InferenceServiceClient raw, Metadata auth, SchedulerAdminClient admin)
    {
        try
        {
            switch (op)
            {
                case SubmitOp { Stream: false } s:
                    CheckSubmitted(s.Request, await raw.SubmitJobAsync(s.Request, auth, deadline: DateTime.UtcNow.AddSeconds(20)));
                    return "submit ok";
                case SubmitOp s:
                    await Stream(raw.StreamJob(s.Request, auth, deadline: DateTime.UtcNow.AddSeconds(20)), from: 0, s.Request);
                    return "stream ok";
                case JobOp j:
                    var id = Resolve(j);
                    switch (j.Kind)
                    {
                        case "get":
                            CheckOwn(id, await raw.GetJobAsync(new GetJobRequest { JobId = id }, auth));
                            break;
                        case "cancel":
                            CheckOwn(id, await raw.CancelJobAsync(new CancelJobRequest { JobId = id }, auth));
                            break;
                        default:
                            await Stream(raw.WatchJob(new WatchJobRequest { JobId = id, FromToken = j.FromToken }, auth, deadline: DateTime.UtcNow.AddSeconds(20)), Math.Max(0, j.FromToken), null);
                            break;
                    }

                    return j.Kind + " ok";
                case AdminOp a:
                    await RunAdmin(a, admin);
                    return a.Kind + " ok";
                default:
                    throw new InvalidOperationException("unknown operation " + Describe(op));
            }
        }
        catch (RpcException ex)
        {
            CheckStatus(ex.Status, op);
            return ex.StatusCode.ToString();
        }
    }

    private static void CheckStatus(Status status, Op op)
    {
        Assert.True(Documented.Contains(status.StatusCode), $"undocumented status {status.StatusCode} '{status.Detail}' for {Describe(op)}");
        Assert.False(string.IsNullOrEmpty(status.Detail), $"empty detail for {status.StatusCode} on {Describe(op)}");
        Assert.True(status.Detail.Length <= 512, $"detail of {status.Detail.Length} characters for {Describe(op)}");
        if (status.StatusCode is StatusCode.InvalidArgument or StatusCode.AlreadyExists)
        {
            Assert.Matches(FieldPrefix(), status.Detail);
        }
    }

    private void CheckSubmitted(SubmitJobRequest request, Job job)
    {
        Assert.StartsWith("job-", job.JobId, StringComparison.Ordinal);
        Assert.Equal(_tenant, job.TenantId);
        Assert.Contains(job.Status, new[] { JobStatus.Queued, JobStatus.Running, JobStatus.Completed, JobStatus.Cancelled });
        Assert.True(job.PromptTokens > 0);
        Remember(request, job.JobId);

        // With a key, the job may be an earlier submission's (another call in the same wave may still be recording it).
        if (request.IdempotencyKey.Length == 0)
        {
            Assert.Equal(Wire(request.Model), job.Model);
            Assert.Equal(request.MaxTokens, job.MaxTokens);
        }
    }

    private void Remember(SubmitJobRequest request, string jobId)
    {
        // The same idempotency key must always give the same job, even to concurrent submissions.
        var key = Wire(request.IdempotencyKey);
        if (key.Length > 0)
        {
            Assert.Equal(_jobByKey.GetOrAdd(key, jobId), jobId);
        }

        lock (_accepted)
        {
            _accepted.Add(jobId);
        }
    }

    private void CheckOwn(string id, Job job)
    {
        Assert.Equal(Wire(id), job.JobId);
        Assert.Equal(_tenant, job.TenantId);
    }

    private async Task Stream(AsyncServerStreamingCall<JobEvent> call, int from, SubmitJobRequest? request)
    {
        using var peek = new CancellationTokenSource(StreamPeek);
        using (call)
        {
            string? jobId = null;
            var next = from;
            try
            {
                while (await call.ResponseStream.MoveNext(peek.Token))
                {
                    var e = call.ResponseStream.Current;
                    jobId ??= e.JobId;
                    Assert.Equal(jobId, e.JobId);
                    if (e.Tokens is { } chunk)
                    {
                        Assert.Equal(next, chunk.FirstTokenIndex);
                        Assert.True(chunk.TokenCount > 0);
                        next += chunk.TokenCount;
                    }
                }
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Cancelled && peek.IsCancellationRequested)
            {
                // We dropped it after a look: a queued job on the parked model streams nothing more.
            }

            if (request is not null && jobId is not null)
            {
                Remember(request, jobId);
            }
        }
    }

    private static async Task RunAdmin(AdminOp a, SchedulerAdminClient admin)
    {
        switch (a.Kind)
        {
            case "get-tenant":
                Assert.Equal(Wire(a.Id), (await admin.GetTenantAsync(a.Id)).TenantId);
                break;
            case "put-tenant":
                var put = new PutTenantRequest { TenantId = "fuzz-" + a.Id, Weight = a.Weight, ApiKey = a.ApiKey, Quotas = new TenantQuotas { MaxQueuedJobs = a.Quota } };
                var tenant = await admin.PutTenantAsync(put);
                Assert.Equal(Wire(put.TenantId), tenant.TenantId);
                Assert.True(tenant.Weight > 0 && double.IsFinite(tenant.Weight));
                break;
            case "get-accelerator":
                Assert.Equal(Wire(a.Id), (await admin.GetAcceleratorAsync(a.Id)).AcceleratorId);
                break;
            case "cordon":
                Assert.Equal(Wire(a.Id), (await admin.CordonAcceleratorAsync(a.Id)).AcceleratorId);
                break;
            case "get-replica":
                Assert.Equal(Wire(a.Id), (await admin.GetReplicaAsync(a.Id)).ReplicaId);
                break;
            case "list-replicas":
                var replicas = await admin.ListReplicasAsync(a.Id);
                Assert.All(replicas, r => Assert.True(a.Id.Length == 0 || r.Model == Wire(a.Id)));
                break;
            case "summary":
                Assert.True((await admin.GetClusterSummaryAsync()).Models >= 3);
                break;
            default:
                Assert.Contains(await admin.ListModelsAsync(), m => m.Name == SchedulerCluster.Model);
                break;
        }
    }

    private string Resolve(JobOp op)
    {
        lock (_accepted)
        {
            return op.Known is { } i && _accepted.Count > 0 ? _accepted[i % _accepted.Count] : op.Raw;
        }
    }

    /// <summary>A string as the silo receives it: protobuf writes a lone surrogate as U+FFFD, like UTF-8 encoding does.</summary>
    private static string Wire(string s) => Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(s));

    [GeneratedRegex("^[a-z_.]+: ")]
    private static partial Regex FieldPrefix();
}
