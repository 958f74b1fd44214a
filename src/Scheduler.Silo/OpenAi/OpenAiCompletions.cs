using System.Buffers;
using System.Text;
using Grpc.Core;
using Microsoft.Extensions.Options;
using Scheduler.Abstractions.Jobs;
using Scheduler.Silo.Api;

namespace Scheduler.Silo.OpenAi;

/// <summary>
/// Runs a completion or chat completion request as one job through <see cref="JobSubmissions"/> — the gRPC API's path,
/// with the same tenants, quotas, priorities, deadlines, idempotency and placement — and answers in the OpenAI API's
/// shape: one server-sent event per token batch the job's stream delivers, or one body at the end. A client that
/// disconnects before the end cancels its job, unless it sent <c>x-scheduler-keep-on-disconnect: true</c>.
/// </summary>
internal sealed partial class OpenAiCompletions(
    JobSubmissions submissions,
    OpenAiAuthenticator auth,
    OpenAiRequestReader reader,
    OpenAiErrors errors,
    IOptions<ApiOptions> api,
    TimeProvider time,
    ILogger<OpenAiCompletions> logger)
{
    private static readonly byte[] DataPrefix = "data: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();

    public async Task Run(HttpContext http, OpenAiKind kind)
    {
        var aborted = http.RequestAborted;
        OpenAiRequest? request = null;
        try
        {
            var tenant = await auth.Tenant(http.Request);
            (request, var headers) = await Read(http.Request, kind, tenant);
            using var submitted = await submissions.Submit(SubmissionDoors.OpenAi, tenant, request.Submit, subscribe: true, aborted, request.User, request.FitMaxTokens);
            var job = submitted.Job;
            http.Response.Headers[SchedulerHeaders.Names.JobId] = job.JobId;
            OpenAiRequestIds.ForJob(http, job.JobId);
            RateLimitHeaders.Write(http.Response.Headers, submitted.RateLimits);
            var answer = new Answer(kind, job.JobId, job.Model, time.GetUtcNow().ToUnixTimeSeconds(), request.IncludeUsage);
            try
            {
                var events = submissions.Events(submitted, aborted);
                var stops = StopTextFilter.For(request.Submit);
                await (request.Stream
                    ? Stream(http, answer, SseKeepAlive.Events(events, http, TimeSpan.FromSeconds(api.Value.OpenAiStreamKeepAliveSeconds), time, aborted), submitted, stops)
                    : Whole(http, answer, events, stops));
            }
            catch (OperationCanceledException) when (aborted.IsCancellationRequested)
            {
                await Disconnected(job.JobId, headers.KeepOnDisconnect);
            }
        }
        catch (Exception ex) when (!aborted.IsCancellationRequested)
        {
            var error = errors.Map(ex, kind, request?.MaxTokensField ?? OpenAiRequest.MaxTokens);
            if (http.Response.HasStarted)
            {
                // Mid-stream (a drain, a silo failure): the OpenAI SDKs raise an event that carries an error.
                await WriteEvent(http, error.ToJson());
            }
            else
            {
                await OpenAiErrors.Write(http, error);
            }
        }
        catch (RpcException) when (aborted.IsCancellationRequested)
        {
            // The client left before its job was accepted (SchedulerErrors.CallEnded): no job, nobody to answer.
        }
    }

    /// <summary>The request and its scheduler headers; a refusal here is counted as the submission's.</summary>
    private async Task<(OpenAiRequest Request, SchedulerHeaders Headers)> Read(HttpRequest http, OpenAiKind kind, string tenant)
    {
        try
        {
            var request = await reader.Read(http, kind, tenant);
            var headers = SchedulerHeaders.Read(http.Headers);
            headers.ApplyTo(request.Submit);
            return (request, headers);
        }
        catch (Exception ex) when (!http.HttpContext.RequestAborted.IsCancellationRequested)
        {
            submissions.Refused(SubmissionDoors.OpenAi, tenant, ex);
            throw;
        }
    }

    private static async Task Stream(HttpContext http, Answer answer, IAsyncEnumerable<JobEventRecord> events, SubmittedJob submitted, StopTextFilter stops)
    {
        var response = http.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";

        // Headers go out at once, so the client knows the job was accepted; a chat stream opens with the role.
        if (answer.Kind == OpenAiKind.Chat)
        {
            await WriteEvent(http, answer.Chunk("", withRole: true, finishReason: null));
        }
        else
        {
            await response.StartAsync(http.RequestAborted);
            await response.Body.FlushAsync(http.RequestAborted);
        }

        await foreach (var e in events)
        {
            switch (e.Kind)
            {
                case JobEventKind.Tokens:
                    // When the end (or more tokens) is already waiting, the next write flushes this one with it.
                    var text = stops.Push(e.Text);
                    if (text.Length > 0)
                    {
                        await WriteEvent(http, answer.Chunk(text, withRole: false, finishReason: null), flush: !submitted.MoreWaiting);
                    }
                    else if (!submitted.MoreWaiting)
                    {
                        await response.BodyWriter.FlushAsync(http.RequestAborted);
                    }

                    break;
                case JobEventKind.Completed:
                    var held = stops.End();
                    if (held.Length > 0)
                    {
                        await WriteEvent(http, answer.Chunk(held, withRole: false, finishReason: null), flush: false);
                    }

                    await WriteEvent(http, answer.Chunk(answer.Kind == OpenAiKind.Chat ? null : "", withRole: false, FinishReason(e, stops)));
                    if (answer.IncludeUsage)
                    {
                        await WriteEvent(http, OpenAiJson.UsageChunk(answer.Kind, answer.Id, answer.Model, answer.Created, e.Usage!));
                    }

                    await response.Body.WriteAsync(Done, http.RequestAborted);
                    await response.Body.FlushAsync(http.RequestAborted);
                    return;
                case JobEventKind.Failed or JobEventKind.Expired or JobEventKind.Cancelled:
                    await WriteEvent(http, OpenAiErrors.ForEnd(e, answer.Kind).ToJson());
                    return;
            }
        }
    }

    private static async Task Whole(HttpContext http, Answer answer, IAsyncEnumerable<JobEventRecord> events, StopTextFilter stops)
    {
        var text = new StringBuilder();
        await foreach (var e in events)
        {
            switch (e.Kind)
            {
                case JobEventKind.Tokens:
                    text.Append(e.Text);
                    break;
                case JobEventKind.Completed:
                    http.Response.ContentType = OpenAiJson.ContentType;
                    var output = stops.Whole(text.ToString());
                    var body = OpenAiJson.Completion(answer.Kind, answer.Id, answer.Model, answer.Created, output, FinishReason(e, stops), e.Usage!);
                    await http.Response.Body.WriteAsync(body, http.RequestAborted);
                    return;
                case JobEventKind.Failed or JobEventKind.Expired or JobEventKind.Cancelled:
                    await OpenAiErrors.Write(http, OpenAiErrors.ForEnd(e, answer.Kind));
                    return;
            }
        }
    }

    private async Task Disconnected(string jobId, bool keep)
    {
        if (keep)
        {
            LogKept(logger, jobId);
            return;
        }

        // Nobody will read the answer: free the slot and KV cache for the next job.
        LogCancelling(logger, jobId);
        try
        {
            await submissions.Cancel(jobId);
        }
        catch (Exception ex) when (SchedulerErrors.Transient(ex) is not null)
        {
            LogCancelFailed(logger, jobId, ex.GetType().Name);
        }
    }

    // A job ends "stop" (a stop text or the model's end) or "length" (max_tokens); the OpenAI API uses the same words.
    // An answer cut at a stop text ends "stop" even if that text's last token was also the job's last allowed one.
    private static string FinishReason(JobEventRecord completed, StopTextFilter stops) =>
        completed.FinishReason == "length" && !stops.Stopped ? "length" : "stop";

    private static async Task WriteEvent(HttpContext http, byte[] json, bool flush = true)
    {
        var body = http.Response.BodyWriter;
        body.Write(DataPrefix);
        body.Write(json);
        body.Write(EventEnd);
        if (flush)
        {
            await body.FlushAsync(http.RequestAborted);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "OpenAI API client disconnected from job {JobId}: cancelling it")]
    private static partial void LogCancelling(ILogger logger, string jobId);

    [LoggerMessage(Level = LogLevel.Information, Message = "OpenAI API client disconnected from job {JobId}, which runs on as asked")]
    private static partial void LogKept(ILogger logger, string jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not cancel job {JobId} after its client disconnected: {Exception}")]
    private static partial void LogCancelFailed(ILogger logger, string jobId, string exception);

    /// <summary>What every chunk of one answer repeats.</summary>
    private sealed record Answer(OpenAiKind Kind, string Id, string Model, long Created, bool IncludeUsage)
    {
        public byte[] Chunk(string? text, bool withRole, string? finishReason) =>
            OpenAiJson.Chunk(Kind, Id, Model, Created, text, withRole, finishReason, IncludeUsage);
    }
}
