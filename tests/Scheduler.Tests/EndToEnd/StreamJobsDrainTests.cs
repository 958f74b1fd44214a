using Grpc.Core;
using Scheduler.Client;
using Scheduler.Protos.V1;

namespace Scheduler.Tests.EndToEnd;

/// <summary>A draining silo ends a StreamJobs call as it ends a StreamJob — UNAVAILABLE, so the client resumes its jobs
/// elsewhere with WatchJob — and its jobs run on.</summary>
public sealed class StreamJobsDrainTests : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private DrainingSilo _silo = null!;

    public async Task InitializeAsync() => _silo = await DrainingSilo.StartAsync();

    [Fact]
    public async Task StreamJobs_SiloStartsDraining_CallEndsUnavailable_ItsJobRunsOnToCompletion()
    {
        using var client = new SchedulerClient(_silo.Channel, DrainingSilo.TenantKey);
        using var call = client.StreamMany(DateTime.UtcNow + Wait);
        await call.RequestStream.WriteAsync(new StreamJobsRequest
        {
            Ref = "only",
            Job = new SubmitJobRequest { Model = DrainingSilo.Model, Prompt = "say hello world", MaxTokens = 2 },
        });
        var admitted = await _silo.Node.NextAdmit(Wait);
        var jobId = Assert.Single(admitted.Sequences).SequenceId;
        _silo.Node.Send(new StepReport
        {
            ReplicaId = _silo.Node.ReplicaId,
            StepMs = 10,
            Tokens = { new SequenceTokens { SequenceId = jobId, FirstTokenIndex = 0, Text = "Hello", TokenCount = 1 } },
        });
        TokenChunk? first = null;
        while (first is null && await call.ResponseStream.MoveNext())
        {
            first = call.ResponseStream.Current.Event.Tokens;
        }

        Assert.Equal("Hello", first?.Text);
        _silo.Drain();

        var ex = await Assert.ThrowsAsync<RpcException>(async () => await call.ResponseStream.MoveNext());
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.Contains("WatchJob", ex.Status.Detail, StringComparison.Ordinal);

        _silo.Node.Send(new StepReport
        {
            ReplicaId = _silo.Node.ReplicaId,
            StepMs = 10,
            Tokens = { new SequenceTokens { SequenceId = jobId, FirstTokenIndex = 1, Text = " world", TokenCount = 1 } },
            Finished = { new SequenceFinished { SequenceId = jobId, Reason = FinishReason.Length, CompletionTokens = 2 } },
        });
        await Polling.Until(async () => (await client.GetAsync(jobId)).Status == JobStatus.Completed, "the job completes", Wait, TimeSpan.FromMilliseconds(100));
        Assert.Equal("Hello world", (await client.GetAsync(jobId)).Output);
    }

    [Fact]
    public async Task StreamJobs_NoJobOpen_SiloStartsDraining_CallEndsUnavailableAtOnce()
    {
        using var client = new SchedulerClient(_silo.Channel, DrainingSilo.TenantKey);
        using var call = client.StreamMany(DateTime.UtcNow + Wait);

        // A refused submission: the call is surely running, and holds no job.
        await call.RequestStream.WriteAsync(new StreamJobsRequest { Ref = "refused" });
        Assert.True(await call.ResponseStream.MoveNext());
        Assert.Equal((int)StatusCode.InvalidArgument, call.ResponseStream.Current.Refused.Code);

        _silo.Drain();
        var ex = await Assert.ThrowsAsync<RpcException>(async () => await call.ResponseStream.MoveNext());
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
    }

    [Fact]
    public async Task StreamJobs_OpenedWhileSiloDrains_IsUnavailable_AndNoJobIsAccepted()
    {
        _silo.Drain();

        using var client = new SchedulerClient(_silo.Channel, DrainingSilo.TenantKey);
        using var call = client.StreamMany(DateTime.UtcNow + Wait);
        var write = call.RequestStream.WriteAsync(new StreamJobsRequest
        {
            Ref = "late",
            Job = new SubmitJobRequest { Model = DrainingSilo.Model, Prompt = "too late", MaxTokens = 2 },
        });
        var ex = await Assert.ThrowsAsync<RpcException>(async () => await call.ResponseStream.MoveNext());
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _silo.Node.NextAdmit(TimeSpan.FromSeconds(1)));
        await write.ContinueWith(static _ => { }, TaskScheduler.Default);
    }

    public async Task DisposeAsync() => await _silo.DisposeAsync();
}
