using System.Diagnostics;
using System.Globalization;
using Google.Rpc;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Scheduler.Client;
using Scheduler.Protos.V1;
using Scheduler.Silo.Api;
using Scheduler.Silo.Hosting;
using Scheduler.Tests.EndToEnd;

namespace Scheduler.Tests.Silo.Api;

/// <summary>
/// Scheduler:MaxRequestBodyBytesInFlight over the gRPC door of a real silo, with a call written frame by frame on
/// loopback so a request message can be left half sent: a silo whose largest message is 64 KiB and whose budget is
/// 100,000 bytes holds one message of 60,000 bytes that is still arriving, and a second as large would pass the budget;
/// a tenant holds at most 65,536 bytes of it, so a message of 10,000 bytes more passes the tenant's share alone.
/// </summary>
[Collection(ProcessMetricsCollection.Name)]
public sealed class RequestMessageBudgetTests : IAsyncLifetime
{
    private const int LargestMessage = 64 << 10;
    private const int Budget = 100_000;
    private const int MessageBytes = 60_000;
    private const int PerTenant = 65_536;
    private const int SmallBytes = 10_000;

    // What a call sends before it stops mid-message: the frame header and the message's first bytes.
    private const int Started = 1_000;

    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private static readonly string SubmitJob = $"/{InferenceService.Descriptor.FullName}/SubmitJob";
    private static readonly string StreamJob = $"/{InferenceService.Descriptor.FullName}/StreamJob";
    private static readonly string StreamJobs = $"/{InferenceService.Descriptor.FullName}/StreamJobs";
    private const string HealthCheck = "/grpc.health.v1.Health/Check";
    private static readonly (string, string) Key = ("authorization", $"Bearer {SecuredSilo.ConfiguredKey}");
    private static readonly Metadata Auth = new() { { Key.Item1, Key.Item2 } };
    private static readonly Metadata OtherAuth = new() { { Key.Item1, $"Bearer {SecuredSilo.OtherTenantKey}" } };

    private readonly SecuredSilo _silo = new(
    [
        $"--Scheduler:MaxReceiveMessageBytes={LargestMessage}", $"--Scheduler:MaxRequestBodyBytesInFlight={Budget}",
        $"--Scheduler:MaxRequestBodyBytesPerTenant={PerTenant}", .. SecuredSilo.OtherTenant,
    ]);

    public Task InitializeAsync() => _silo.InitializeAsync();

    public Task DisposeAsync() => _silo.DisposeAsync();

    [Fact]
    public async Task Reserve_OverTheBudget_IsResourceExhaustedNamingTheSetting_BeforeTheMessageIsSent_AndIsCounted()
    {
        await using var holder = await StartMessage(SubmitJob, "no-such-model");

        // Only the frame header: the answer comes without a byte of the message.
        await using var next = await RawGrpcCall.Start(_silo.Address, SubmitJob, [Key]);
        await next.Send(RawGrpcCall.Framed(Request("no-such-model")).AsMemory(0, 5), endStream: false);
        var refused = await next.Answer();

        Assert.Equal(((int)StatusCode.ResourceExhausted).ToString(CultureInfo.InvariantCulture), Field(refused, "grpc-status"));
        Assert.StartsWith($"this silo is reading as many request bodies as it holds at once ({Budget} bytes)", Uri.UnescapeDataString(Field(refused, "grpc-message")), StringComparison.Ordinal);
        Assert.Equal("1000", Field(refused, "retry-after-ms"));

        // What a gRPC client sees, sending its whole message.
        var seen = await Assert.ThrowsAsync<RpcException>(() => Client().SubmitJobAsync(Request("no-such-model"), Auth).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, seen.StatusCode);
        Assert.StartsWith(
            $"this silo is reading as many request bodies as it holds at once ({Budget} bytes); "
            + $"this request's body of up to {MessageBytes} bytes was not read; retry after 1000 ms", seen.Status.Detail, StringComparison.Ordinal);
        Assert.True(SchedulerErrors.IsOverloaded(seen));
        Assert.Equal(TimeSpan.FromSeconds(1), seen.GetRpcStatus()!.GetDetail<RetryInfo>().RetryDelay.ToTimeSpan());
        Assert.Equal(MessageBytes, Held());
        var metrics = await _silo.MetricsText();
        Assert.Matches("scheduler_request_body_refused_total\\{[^}]*bound=\"silo\"[^}]*\\} 2\n", metrics);
        Assert.Matches("scheduler_request_body_refused_total\\{[^}]*bound=\"tenant\"[^}]*\\} 0\n", metrics);
        Assert.Contains($"scheduler_request_body_held_bytes{{otel_scope_name=\"Scheduler\"}} {MessageBytes}\n", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reserve_ACallWithoutAValidKey_IsRefusedBeforeItsMessageIsRead_AndHoldsNothing()
    {
        // As the OpenAI door checks the key before it reads a body: else a client with no key, sending large messages
        // slowly, could hold the whole budget.
        await using var call = await RawGrpcCall.Start(_silo.Address, SubmitJob, [("authorization", "Bearer not-a-key")]);
        await call.Send(RawGrpcCall.Framed(Request("no-such-model")).AsMemory(0, 5 + Started), endStream: false);
        var refused = await call.Answer();

        Assert.Equal(((int)StatusCode.Unauthenticated).ToString(CultureInfo.InvariantCulture), Field(refused, "grpc-status"));
        Assert.Equal(0, Held());
    }

    [Fact]
    public async Task Reserve_AStreamedCallsMessageParsed_GivesItsBytesBackWhileTheCallGoesOn()
    {
        // StreamJob's job waits in its queue (this silo has no nodes), so the call goes on after its message is parsed.
        await using var holder = await StartMessage(StreamJob, "llama-3.1-8b");
        await holder.Send(RawGrpcCall.Framed(Request("llama-3.1-8b")).AsMemory(5 + Started), endStream: true);
        var head = await holder.Head();

        Assert.DoesNotContain(head, f => f.Name == "grpc-status");
        Assert.Equal(0, Held());
        var fits = await Assert.ThrowsAsync<RpcException>(() => Client().SubmitJobAsync(Request("no-such-model"), Auth).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, fits.StatusCode);
    }

    [Fact]
    public async Task Reserve_ACallResetMidMessage_GivesItsBytesBack()
    {
        await using var holder = await StartMessage(SubmitJob, "no-such-model");
        await holder.Reset();

        await Polling.Until(() => Held() == 0, "the abandoned message's bytes are back", Wait);
        var fits = await Assert.ThrowsAsync<RpcException>(() => Client().SubmitJobAsync(Request("no-such-model"), Auth).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, fits.StatusCode);
    }

    [Fact]
    public async Task Reserve_ACallThatSendsNoMessage_IsDeadlineExceededAtItsDeadline_AndHoldsNothing()
    {
        // Headers with a deadline of 200 ms, then nothing: the frame header is awaited before grpc-dotnet starts the
        // call's deadline, so the wait keeps it (Kestrel's minimum body data rate would close the connection after ~6 s).
        await using var call = await RawGrpcCall.Start(_silo.Address, SubmitJob, [Key, ("grpc-timeout", "200m")]);
        var clock = Stopwatch.StartNew();
        var answer = await call.Answer();

        Assert.Equal(((int)StatusCode.DeadlineExceeded).ToString(CultureInfo.InvariantCulture), Field(answer, "grpc-status"));
        Assert.Equal("Deadline Exceeded", Field(answer, "grpc-message"));
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(150), TimeSpan.FromSeconds(3));
        Assert.Equal(0, Held());
        Assert.Contains("scheduler_request_body_held_bytes{otel_scope_name=\"Scheduler\"} 0\n", await _silo.MetricsText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reserve_ACallWhoseMessageComesLate_HasNoMoreTimeThanItsDeadline()
    {
        // A deadline of 2 s, the message 1.5 s after the headers: grpc-dotnet, whose deadline starts once the header has
        // come, gets what is left of it, and ends StreamJob's wait in its queue (this silo has no nodes) at 2 s, not 3.5 s.
        await using var call = await RawGrpcCall.Start(_silo.Address, StreamJob, [Key, ("grpc-timeout", "2S")]);
        var clock = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        await call.Send(RawGrpcCall.Framed(Request("llama-3.1-8b", SmallBytes)), endStream: true);
        var answer = await call.Answer();

        Assert.Equal(((int)StatusCode.DeadlineExceeded).ToString(CultureInfo.InvariantCulture), Field(answer, "grpc-status"));
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1.9), TimeSpan.FromSeconds(3));
    }

    [Fact]
    public async Task Reserve_AStreamJobsMessage_HoldsItsBytesWhileItArrives_AndGivesThemBackOnceParsed()
    {
        var framed = RawGrpcCall.Framed(Sized(new StreamJobsRequest { Ref = "first", Job = new SubmitJobRequest { Model = "llama-3.1-8b", MaxTokens = 1 } }));
        await using var call = await RawGrpcCall.Start(_silo.Address, StreamJobs, [Key]);
        await call.Send(framed.AsMemory(0, 5 + Started), endStream: false);
        await Polling.Until(() => Held() == MessageBytes, "the arriving message holds its bytes", Wait);
        var refused = await Assert.ThrowsAsync<RpcException>(() => Client().SubmitJobAsync(Request("no-such-model"), Auth).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);

        // The rest of it, the call left open: the job's first event is written once the message is parsed.
        await call.Send(framed.AsMemory(5 + Started), endStream: false);
        var head = await call.Head();

        Assert.DoesNotContain(head, f => f.Name == "grpc-status");
        Assert.Equal(0, Held());
        var fits = await Assert.ThrowsAsync<RpcException>(() => Client().SubmitJobAsync(Request("no-such-model"), Auth).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, fits.StatusCode);
    }

    [Fact]
    public async Task Reserve_AStreamJobsCallResetMidMessage_GivesItsBytesBack()
    {
        await using var call = await RawGrpcCall.Start(_silo.Address, StreamJobs, [Key]);
        await call.Send(RawGrpcCall.Framed(Sized(new StreamJobsRequest { Ref = "first", Job = new SubmitJobRequest { Model = "llama-3.1-8b", MaxTokens = 1 } }))
            .AsMemory(0, 5 + Started), endStream: false);
        await Polling.Until(() => Held() == MessageBytes, "the arriving message holds its bytes", Wait);
        await call.Reset();

        await Polling.Until(() => Held() == 0, "the abandoned message's bytes are back", Wait);
    }

    [Fact]
    public async Task Reserve_AStreamJobsMessageOverTheBudget_EndsTheCallResourceExhausted_AndItsAcceptedJobRunsOn()
    {
        using var jobs = Client().StreamJobs(Auth);
        await jobs.RequestStream.WriteAsync(new StreamJobsRequest { Ref = "small", Job = new SubmitJobRequest { Model = "llama-3.1-8b", Prompt = "hello", MaxTokens = 1 } });
        Assert.True(await jobs.ResponseStream.MoveNext());
        var accepted = jobs.ResponseStream.Current.Event;
        Assert.NotNull(accepted.Queued);

        await using var holder = await StartMessage(SubmitJob, "no-such-model");
        var write = jobs.RequestStream.WriteAsync(Sized(new StreamJobsRequest { Ref = "large", Job = new SubmitJobRequest { Model = "llama-3.1-8b", MaxTokens = 1 } }));
        var refused = await Assert.ThrowsAsync<RpcException>(() => jobs.ResponseStream.MoveNext());

        // The call is answered at the message's header: the write fails too when the call ends under it.
        await Record.ExceptionAsync(() => write);

        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.StartsWith(
            $"this silo is reading as many request bodies as it holds at once ({Budget} bytes); "
            + $"this request's body of up to {MessageBytes} bytes was not read; retry after 1000 ms", refused.Status.Detail, StringComparison.Ordinal);
        Assert.True(SchedulerErrors.IsOverloaded(refused));
        Assert.Equal(TimeSpan.FromSeconds(1), refused.GetRpcStatus()!.GetDetail<RetryInfo>().RetryDelay.ToTimeSpan());
        Assert.Equal(MessageBytes, Held());

        // Ending the call lost nothing accepted: the first job waits in its queue (this silo has no nodes).
        var job = await Client().GetJobAsync(new GetJobRequest { JobId = accepted.JobId }, Auth);
        Assert.Equal(JobStatus.Queued, job.Status);
    }

    [Fact]
    public async Task Reserve_OverTheTenantsShare_IsResourceExhaustedForThatTenantAlone()
    {
        // 60,000 of the tenant's 65,536 bytes held; the silo's budget has 40,000 left.
        await using var holder = await StartMessage(SubmitJob, "no-such-model");

        var refused = await Assert.ThrowsAsync<RpcException>(() => Client().SubmitJobAsync(Request("no-such-model", SmallBytes), Auth).ResponseAsync);

        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.StartsWith(
            $"this silo is reading as many of this tenant's request bodies as one tenant may hold at once ({PerTenant} bytes); "
            + $"this request's body of up to {SmallBytes} bytes was not read; retry after 1000 ms", refused.Status.Detail, StringComparison.Ordinal);
        Assert.True(SchedulerErrors.IsOverloaded(refused));
        Assert.Equal(TimeSpan.FromSeconds(1), refused.GetRpcStatus()!.GetDetail<RetryInfo>().RetryDelay.ToTimeSpan());
        Assert.Equal(MessageBytes, Held());

        // Counted as the tenant's share's refusal, not the silo's budget's: an operator sees which bound to raise.
        var metrics = await _silo.MetricsText();
        Assert.Matches("scheduler_request_body_refused_total\\{[^}]*bound=\"tenant\"[^}]*\\} 1\n", metrics);
        Assert.Matches("scheduler_request_body_refused_total\\{[^}]*bound=\"silo\"[^}]*\\} 0\n", metrics);

        // Another tenant's message as large is read.
        var other = await Assert.ThrowsAsync<RpcException>(() => Client().SubmitJobAsync(Request("no-such-model", SmallBytes), OtherAuth).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, other.StatusCode);
    }

    [Fact]
    public async Task Reserve_CallsWithoutAKeyToAnOpenService_HoldOneTenantsShareTogether_AndATenantIsStillRead()
    {
        // Health and reflection take calls without a key; 60,000 bytes of a keyless health check still arriving.
        await using var keyless = await RawGrpcCall.Start(_silo.Address, HealthCheck, []);
        await keyless.Send(RawGrpcCall.Framed(Request("no-such-model")).AsMemory(0, 5 + Started), endStream: false);
        await Polling.Until(() => Held() == MessageBytes, "the keyless message holds its bytes", Wait);

        // Another keyless one of 10,000 bytes would pass the keyless callers' share, though not the silo's budget.
        var refused = await RawGrpcCall.Unary(_silo.Address, HealthCheck, Request("no-such-model", SmallBytes), []);

        Assert.Equal(((int)StatusCode.ResourceExhausted).ToString(CultureInfo.InvariantCulture), Field(refused, "grpc-status"));
        Assert.StartsWith(
            $"this silo is reading as many of the request bodies of callers without a key as one tenant may hold at once ({PerTenant} bytes)",
            Uri.UnescapeDataString(Field(refused, "grpc-message")), StringComparison.Ordinal);
        Assert.Equal(MessageBytes, Held());

        // A tenant's message as large is read.
        var read = await Assert.ThrowsAsync<RpcException>(() => Client().SubmitJobAsync(Request("no-such-model", SmallBytes), Auth).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, read.StatusCode);
    }

    [Fact]
    public async Task Reserve_AStreamJobsMessageOverTheTenantsShare_EndsTheCallResourceExhausted()
    {
        await using var holder = await StartMessage(SubmitJob, "no-such-model");
        using var jobs = Client().StreamJobs(Auth);
        var write = jobs.RequestStream.WriteAsync(new StreamJobsRequest { Ref = "small", Job = Request("llama-3.1-8b", SmallBytes) });
        var refused = await Assert.ThrowsAsync<RpcException>(() => jobs.ResponseStream.MoveNext());
        await Record.ExceptionAsync(() => write);

        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.StartsWith($"this silo is reading as many of this tenant's request bodies as one tenant may hold at once ({PerTenant} bytes)", refused.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MultiplexedJobRunner_ACallEndedForWantOfRoom_FollowsItsAcceptedJob_AndSubmitsTheRefusedOneAgain()
    {
        // Both jobs wait in their queue (this silo has no nodes) until the deadline: each ends "did not finish", which
        // says it was accepted.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(6);
        using var runner = new MultiplexedJobRunner([_silo.Address], SecuredSilo.ConfiguredKey);
        using var tenant = _silo.Client(SecuredSilo.ConfiguredKey);
        var first = runner.RunAsync(new SubmitJobRequest { Model = "llama-3.1-8b", Prompt = "first", MaxTokens = 1 }, deadline: deadline);
        await Polling.Until(async () => (await tenant.ListAsync(new ListJobsRequest())).Jobs.Count == 1, "the first job is accepted", Wait);

        // Another tenant holds 60,000 bytes: the second job's 60,000 do not fit, and end the call.
        await using var holder = await StartMessage(SubmitJob, "no-such-model", SecuredSilo.OtherTenantKey);
        var second = runner.RunAsync(Request("llama-3.1-8b"), deadline: deadline);
        await Polling.Until(() => _silo.Service<RequestBodyBudget>().Refused > 0, "the second job's message is refused", Wait);
        await holder.Reset();

        var followed = await Assert.ThrowsAsync<RpcException>(() => first);
        Assert.Equal(StatusCode.DeadlineExceeded, followed.StatusCode);
        Assert.Matches(@"^job \S+ did not finish before the deadline \(0 tokens received, [1-9]\d* reconnects\)$", followed.Status.Detail);
        var resubmitted = await Assert.ThrowsAsync<RpcException>(() => second);
        Assert.Equal(StatusCode.DeadlineExceeded, resubmitted.StatusCode);
        Assert.Matches(@"^job \S+ did not finish before the deadline", resubmitted.Status.Detail);
        Assert.Equal(2, (await tenant.ListAsync(new ListJobsRequest())).Jobs.Count);
    }

    private InferenceService.InferenceServiceClient Client() => new(_silo.Channel);

    private long Held() => _silo.Service<RequestBodyBudget>().Held;

    /// <summary>A submission of <paramref name="model"/> whose message is exactly <paramref name="bytes"/> long.</summary>
    private static SubmitJobRequest Request(string model, int bytes = MessageBytes)
    {
        var request = new SubmitJobRequest { Model = model, MaxTokens = 1 };
        // Words, not one character over and over, which the validator refuses.
        var words = string.Concat(Enumerable.Repeat("a prompt of words ", bytes / 10));
        request.Prompt = words[..(bytes - request.CalculateSize() - 4)];
        request.Prompt = words[..(request.Prompt.Length + bytes - request.CalculateSize())];
        Assert.Equal(bytes, request.CalculateSize());
        return request;
    }

    /// <summary><paramref name="request"/>, its job's prompt made so that it is exactly <see cref="MessageBytes"/> long.</summary>
    private static StreamJobsRequest Sized(StreamJobsRequest request)
    {
        var words = string.Concat(Enumerable.Repeat("a prompt of words ", MessageBytes / 10));
        request.Job.Prompt = words[..(MessageBytes - request.CalculateSize() - 8)];
        request.Job.Prompt = words[..(request.Job.Prompt.Length + MessageBytes - request.CalculateSize())];
        Assert.Equal(MessageBytes, request.CalculateSize());
        return request;
    }

    /// <summary>A call of <paramref name="method"/> with <paramref name="key"/> that has sent its message's header and
    /// first bytes, once the silo holds its bytes.</summary>
    private async Task<RawGrpcCall> StartMessage(string method, string model, string key = SecuredSilo.ConfiguredKey)
    {
        var call = await RawGrpcCall.Start(_silo.Address, method, [(Key.Item1, $"Bearer {key}")]);
        await call.Send(RawGrpcCall.Framed(Request(model)).AsMemory(0, 5 + Started), endStream: false);
        await Polling.Until(() => Held() == MessageBytes, "the first message holds its bytes", Wait);
        return call;
    }

    private static string Field(IReadOnlyList<(string Name, string Value)> fields, string name) => fields.Single(f => f.Name == name).Value;
}
