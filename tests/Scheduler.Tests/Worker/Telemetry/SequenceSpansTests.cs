using System.Collections.Concurrent;
using System.Diagnostics;
using Scheduler.Protos.V1;
using Scheduler.Worker.Telemetry;

namespace Scheduler.Tests.Worker.Telemetry;

public sealed class SequenceSpansTests : IDisposable
{
    private readonly ConcurrentQueue<Activity> _stopped = new();
    private readonly ActivityListener _listener;

    public SequenceSpansTests()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == WorkerTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    [Fact]
    public void Reported_FirstTokensEndPrefill_TheFinishEndsDecode_BothChildrenOfTheSequenceContext()
    {
        var parent = new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded);
        var traceParent = $"00-{parent.TraceId}-{parent.SpanId}-01";
        var sequence = "seq-" + Guid.NewGuid().ToString("N");
        var spans = new SequenceSpans("replica-1");

        spans.Admitted(sequence, traceParent);
        spans.Reported(Report(tokens: (sequence, 1)));
        Assert.Equal(["prefill"], Ours(sequence).Select(a => a.OperationName));

        spans.Reported(Report(tokens: (sequence, 2)));
        spans.Reported(Report(finished: (sequence, FinishReason.Length)));
        var ours = Ours(sequence);
        Assert.Equal(["prefill", "decode"], ours.Select(a => a.OperationName));
        Assert.All(ours, a => Assert.Equal((parent.TraceId, parent.SpanId), (a.TraceId, a.ParentSpanId)));
        Assert.Equal(3, ours[1].GetTagItem(WorkerTelemetry.OutputTokens));
        Assert.Equal("length", ours[1].GetTagItem(WorkerTelemetry.FinishReason));
    }

    [Fact]
    public void Admitted_WithoutTraceContext_StartsNoSpan_AndDropAllEndsOpenSpansAsErrors()
    {
        var untraced = "seq-" + Guid.NewGuid().ToString("N");
        var traced = "seq-" + Guid.NewGuid().ToString("N");
        var spans = new SequenceSpans("replica-1");
        spans.Admitted(untraced, "");
        spans.Admitted(traced, $"00-{ActivityTraceId.CreateRandom()}-{ActivitySpanId.CreateRandom()}-01");

        spans.DropAll();

        Assert.Empty(Ours(untraced));
        var dropped = Assert.Single(Ours(traced));
        Assert.Equal(("prefill", ActivityStatusCode.Error), (dropped.OperationName, dropped.Status));
    }

    public void Dispose() => _listener.Dispose();

    private List<Activity> Ours(string sequence) =>
        [.. _stopped.Where(a => (string?)a.GetTagItem(WorkerTelemetry.JobId) == sequence)];

    private static StepReport Report((string Id, int Count)? tokens = null, (string Id, FinishReason Reason)? finished = null)
    {
        var report = new StepReport { ReplicaId = "replica-1" };
        if (tokens is var (id, count))
        {
            report.Tokens.Add(new SequenceTokens { SequenceId = id, TokenCount = count, Text = new string('x', count) });
        }

        if (finished is var (fid, reason))
        {
            report.Finished.Add(new SequenceFinished { SequenceId = fid, Reason = reason });
        }

        return report;
    }
}
