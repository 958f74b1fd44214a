using System.Diagnostics;
using Scheduler.Protos.V1;

namespace Scheduler.Worker.Telemetry;

/// <summary>
/// The spans of one replica's running sequences: "prefill" from admission until the sequence's first token, then
/// "decode" until it finishes. Driven by what the replica reports (a sequence's first tokens end its prefill, its
/// finish ends it), so every engine gets the same spans without timing code of its own. Not thread-safe: its
/// <c>RunningBatch</c> calls it under the engine's lock.
/// </summary>
internal sealed class SequenceSpans(string replicaId)
{
    private readonly Dictionary<string, Spans> _spans = new(StringComparer.Ordinal);

    public void Admitted(string sequenceId, string traceParent)
    {
        if (WorkerTelemetry.Start(WorkerTelemetry.PrefillSpan, traceParent, sequenceId, replicaId) is { } prefill)
        {
            _spans[sequenceId] = new Spans(traceParent, prefill);
        }
    }

    /// <summary>Moves sequences whose first tokens <paramref name="report"/> carries into decode, and ends those it
    /// reports finished.</summary>
    public void Reported(StepReport report)
    {
        if (_spans.Count == 0)
        {
            return;
        }

        foreach (var tokens in report.Tokens)
        {
            if (_spans.TryGetValue(tokens.SequenceId, out var spans))
            {
                if (spans.Decode is null)
                {
                    spans.Prefill.Stop();
                    spans.Decode = WorkerTelemetry.Start(WorkerTelemetry.DecodeSpan, spans.Parent, tokens.SequenceId, replicaId);
                }

                spans.OutputTokens += tokens.TokenCount;
            }
        }

        foreach (var finished in report.Finished)
        {
            if (_spans.Remove(finished.SequenceId, out var spans))
            {
                var last = spans.Decode ?? spans.Prefill;
                last.SetTag(WorkerTelemetry.FinishReason, finished.Reason.ToString().ToLowerInvariant())
                    .SetTag(WorkerTelemetry.OutputTokens, spans.OutputTokens);
                if (finished.Reason == FinishReason.Error)
                {
                    last.SetStatus(ActivityStatusCode.Error, finished.Error);
                }

                last.Stop();
            }
        }
    }

    /// <summary>Ends every span: the sequences left the replica without a report (their stream closed).</summary>
    public void DropAll()
    {
        foreach (var spans in _spans.Values)
        {
            var last = spans.Decode ?? spans.Prefill;
            last.SetStatus(ActivityStatusCode.Error, "dropped: the execution stream closed");
            last.Stop();
        }

        _spans.Clear();
    }

    private sealed class Spans(string parent, Activity prefill)
    {
        public string Parent { get; } = parent;

        public Activity Prefill { get; } = prefill;

        public Activity? Decode { get; set; }

        public int OutputTokens { get; set; }
    }
}
