using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using Scheduler.Bench.Harness;
using Scheduler.Protos.V1;

namespace Scheduler.Bench.SchedulerPath;

/// <summary>
/// Jobs through <c>StreamJobs</c>: every call of <see cref="Call"/> submits one job on one of a few long-lived calls
/// (round robin) and is timed, as <see cref="StreamJobCaller"/> times a job, from its submission to its first
/// <c>TokenChunk</c> and to its <c>JobCompleted</c>. A refused, failed or cancelled job throws.
/// </summary>
internal sealed class MultiplexedJobCaller : IAsyncDisposable
{
    private readonly Lane[] _lanes;
    private int _next;

    private MultiplexedJobCaller(Lane[] lanes) => _lanes = lanes;

    public static MultiplexedJobCaller Open(InferenceService.InferenceServiceClient client, string apiKey, int promptTokens, int maxTokens, int streams)
    {
        var request = StreamJobCaller.BuildRequest(promptTokens, maxTokens);
        var auth = new Metadata { { "authorization", "Bearer " + apiKey } };
        return new MultiplexedJobCaller([.. Enumerable.Range(0, streams).Select(_ => new Lane(client.StreamJobs(auth), request))]);
    }

    public Task<CallTiming> Call(CancellationToken cancellationToken) =>
        _lanes[(uint)Interlocked.Increment(ref _next) % _lanes.Length].Submit(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        foreach (var lane in _lanes)
        {
            await lane.DisposeAsync();
        }
    }

    /// <summary>One StreamJobs call: submissions written one at a time (a call's request stream takes one write at a time)
    /// by whichever caller holds the gate, and a reader that hands each event to the job it names.</summary>
    private sealed class Lane : IAsyncDisposable
    {
        private readonly AsyncDuplexStreamingCall<StreamJobsRequest, StreamJobsResponse> _call;
        private readonly SubmitJobRequest _job;
        private readonly SemaphoreSlim _writing = new(1, 1);
        private readonly ConcurrentDictionary<string, OpenJob> _open = new();
        private readonly Task _reader;
        private long _refs;

        public Lane(AsyncDuplexStreamingCall<StreamJobsRequest, StreamJobsResponse> call, SubmitJobRequest job)
        {
            _call = call;
            _job = job;
            _reader = ReadAll();
        }

        public async Task<CallTiming> Submit(CancellationToken cancellationToken)
        {
            var reference = Interlocked.Increment(ref _refs).ToString(CultureInfo.InvariantCulture);
            var job = new OpenJob(Stopwatch.GetTimestamp());
            _open[reference] = job;

            // Written by the caller itself, not handed to a writer task: no thread hop before the request leaves.
            await _writing.WaitAsync(cancellationToken);
            try
            {
                await _call.RequestStream.WriteAsync(new StreamJobsRequest { Ref = reference, Job = _job }, cancellationToken);
            }
            finally
            {
                _writing.Release();
            }

            return await job.Done.Task.WaitAsync(cancellationToken);
        }

        public async ValueTask DisposeAsync()
        {
            await _writing.WaitAsync();
            try
            {
                await _call.RequestStream.CompleteAsync();
            }
            catch (RpcException)
            {
                // The call had already ended; its jobs' failures were counted where they were awaited.
            }
            finally
            {
                _writing.Release();
            }

            await Task.WhenAny(_reader, Task.Delay(TimeSpan.FromSeconds(10)));
            _call.Dispose();
            _writing.Dispose();
        }

        private async Task ReadAll()
        {
            try
            {
                await foreach (var message in _call.ResponseStream.ReadAllAsync())
                {
                    if (_open.TryGetValue(message.Ref, out var job))
                    {
                        Hear(message, job);
                    }
                }
            }
            catch (Exception ex)
            {
                foreach (var job in _open.Values)
                {
                    job.Done.TrySetException(ex);
                }
            }
        }

        private void Hear(StreamJobsResponse message, OpenJob job)
        {
            var at = Stopwatch.GetTimestamp() - job.Start;
            if (message.KindCase == StreamJobsResponse.KindOneofCase.Refused)
            {
                End(message.Ref, job, new InvalidOperationException($"refused ({message.Refused.Code}): {message.Refused.Message}"));
                return;
            }

            switch (message.Event.EventCase)
            {
                case JobEvent.EventOneofCase.Tokens when job.First < 0:
                    job.First = at;
                    break;
                case JobEvent.EventOneofCase.Completed when job.First < 0:
                    End(message.Ref, job, new InvalidOperationException($"job {message.Event.JobId} completed without a token"));
                    break;
                case JobEvent.EventOneofCase.Completed:
                    _open.TryRemove(message.Ref, out _);
                    job.Done.TrySetResult(new CallTiming(job.First, at));
                    break;
                case JobEvent.EventOneofCase.Failed or JobEvent.EventOneofCase.Cancelled or JobEvent.EventOneofCase.Expired:
                    End(message.Ref, job, new InvalidOperationException($"job {message.Event.JobId} ended {message.Event.EventCase}"));
                    break;
            }
        }

        private void End(string reference, OpenJob job, Exception ex)
        {
            _open.TryRemove(reference, out _);
            job.Done.TrySetException(ex);
        }
    }

    private sealed class OpenJob(long start)
    {
        public long Start { get; } = start;

        public long First { get; set; } = -1;

        public TaskCompletionSource<CallTiming> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
