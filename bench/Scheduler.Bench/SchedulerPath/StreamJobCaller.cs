using System.Diagnostics;
using Grpc.Core;
using Scheduler.Bench.Harness;
using Scheduler.Protos.V1;

namespace Scheduler.Bench.SchedulerPath;

/// <summary>
/// One job through the front door: StreamJob with a fixed prompt of token ids, timed to the first TokenChunk
/// (time to first token) and to the JobCompleted event. A failed, cancelled or tokenless job throws.
/// </summary>
internal sealed class StreamJobCaller(InferenceService.InferenceServiceClient client, string apiKey, int promptTokens, int maxTokens)
{
    // Built once: the request and the headers are only read by the client, never changed.
    private readonly SubmitJobRequest _request = BuildRequest(promptTokens, maxTokens);
    private readonly Metadata _auth = new() { { "authorization", "Bearer " + apiKey } };

    /// <summary>When set, what the scheduler reported for each completed job is added here (sequential use only).</summary>
    public List<JobReport>? Sink { get; set; }

    public async Task<CallTiming> Call(CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        long first = -1;
        long completed = -1;
        var tokenEvents = 0;
        using var call = client.StreamJob(_request, _auth, cancellationToken: cancellationToken);
        while (await call.ResponseStream.MoveNext(cancellationToken))
        {
            var e = call.ResponseStream.Current;
            switch (e.EventCase)
            {
                case JobEvent.EventOneofCase.Tokens:
                    if (first < 0)
                    {
                        first = Stopwatch.GetTimestamp() - start;
                    }

                    tokenEvents++;
                    break;
                case JobEvent.EventOneofCase.Completed:
                    completed = Stopwatch.GetTimestamp() - start;
                    Sink?.Add(new JobReport(e.Completed.Usage, tokenEvents));
                    break;
                case JobEvent.EventOneofCase.Failed:
                    throw new InvalidOperationException($"job {e.JobId} failed: {e.Failed.Error}");
                case JobEvent.EventOneofCase.Cancelled:
                    throw new InvalidOperationException($"job {e.JobId} was cancelled");
            }
        }

        if (first < 0 || completed < 0)
        {
            throw new InvalidOperationException($"the stream ended without {(first < 0 ? "a token" : "a completion")}");
        }

        return new CallTiming(first, completed);
    }

    public static SubmitJobRequest BuildRequest(int promptTokens, int maxTokens)
    {
        var request = new SubmitJobRequest { Model = EmbeddedSilo.Model, MaxTokens = maxTokens };

        // Ordinary cl100k ids (1000 and up); their values do not matter to the scheduler, only their count.
        request.PromptTokenIds.AddRange(Enumerable.Range(1000, promptTokens));
        return request;
    }
}

/// <summary>The usage the scheduler reported for one job, and how many TokenChunk messages carried its output.</summary>
internal sealed record JobReport(Usage Usage, int TokenEvents);
