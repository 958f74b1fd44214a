using System.Runtime.CompilerServices;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using Scheduler.Protos.V1;
using static Scheduler.Client.SchedulerConnection;

namespace Scheduler.Client;

/// <summary>
/// Typed client of the scheduler's <c>InferenceService</c>: submit jobs, stream their tokens, query and cancel them.
/// Every call carries <c>authorization: Bearer &lt;api key&gt;</c>. gRPC errors surface as <see cref="RpcException"/>;
/// every method takes an optional deadline (UTC) and a cancellation token.
/// </summary>
public sealed class SchedulerClient : IDisposable
{
    private readonly SchedulerConnection _connection;
    private readonly InferenceService.InferenceServiceClient _inference;

    /// <summary>Opens a channel to the scheduler; the client owns it and closes it on <see cref="Dispose"/>.</summary>
    /// <param name="address">The scheduler's address, e.g. "http://127.0.0.1:5000" (cleartext HTTP/2) or an https:// URL.</param>
    /// <param name="trustedCaPath">PEM file of the CA that signed an https scheduler's certificate; null trusts the system's CAs.
    /// Read again at each new connection's handshake (parsed only when it changed), so a long-lived client follows a CA
    /// rotation without being made again; a file that no longer parses keeps the CAs read last.</param>
    /// <param name="apiKey">The tenant's API key.</param>
    /// <param name="logger">Told when the CA file changed, and warned when it no longer parses; null logs nothing.</param>
    public SchedulerClient(string address, string apiKey, string? trustedCaPath = null, ILogger? logger = null)
        : this(SchedulerConnection.ForAddress(address, apiKey, trustedCaPath, logger))
    {
    }

    /// <summary>Calls through an existing channel, which stays owned by the caller.</summary>
    /// <param name="channel">A channel to the scheduler, e.g. a <see cref="GrpcChannel"/>.</param>
    /// <param name="apiKey">The tenant's API key.</param>
    public SchedulerClient(ChannelBase channel, string apiKey)
        : this(SchedulerConnection.ForChannel(channel, apiKey))
    {
    }

    /// <summary>Calls through an existing invoker, which stays owned by the caller.</summary>
    /// <param name="callInvoker">An invoker reaching the scheduler.</param>
    /// <param name="apiKey">The tenant's API key.</param>
    public SchedulerClient(CallInvoker callInvoker, string apiKey)
        : this(SchedulerConnection.ForInvoker(callInvoker, apiKey))
    {
    }

    private SchedulerClient(SchedulerConnection connection)
    {
        _connection = connection;
        _inference = new InferenceService.InferenceServiceClient(connection.Invoker);
    }

    /// <summary>Submits a job and returns it queued; it runs whether or not anyone watches it.</summary>
    /// <param name="request">The job.</param>
    /// <param name="deadline">When to give up on the call (UTC); null for none.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<Job> SubmitAsync(
        SubmitJobRequest request, DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        _inference.SubmitJobAsync(request, Options(deadline, cancellationToken)).ResponseAsync;

    /// <summary>Submits a job and streams its events: queued, admitted, tokens, then completed, failed, cancelled or expired.</summary>
    /// <param name="request">The job.</param>
    /// <param name="deadline">When to give up on the stream (UTC); null for none.</param>
    /// <param name="cancellationToken">Ends the stream (the job itself keeps running; see <see cref="CancelAsync"/>).</param>
    public IAsyncEnumerable<JobEvent> StreamAsync(
        SubmitJobRequest request, DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        ReadAllAsync(options => _inference.StreamJob(request, options), deadline, cancellationToken);

    /// <summary>
    /// Opens a <c>StreamJobs</c> call, for submitting many jobs over one stream: write a <see cref="StreamJobsRequest"/>
    /// per job (its <c>Ref</c> names it in every message back), read each job's events or its refusal under that ref,
    /// and complete the request stream when done; the call then ends once every job it submitted has ended.
    /// </summary>
    /// <param name="deadline">When to give up on the call (UTC); null for none. The jobs keep running after it.</param>
    /// <param name="cancellationToken">Ends the call (its jobs keep running; see <see cref="CancelAsync"/>).</param>
    public AsyncDuplexStreamingCall<StreamJobsRequest, StreamJobsResponse> StreamMany(
        DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        _inference.StreamJobs(Options(deadline, cancellationToken));

    /// <summary>Returns a job of the calling tenant.</summary>
    /// <param name="jobId">The job's id.</param>
    /// <param name="deadline">When to give up on the call (UTC); null for none.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<Job> GetAsync(
        string jobId, DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        _inference.GetJobAsync(
            new GetJobRequest { JobId = jobId }, Options(deadline, cancellationToken)).ResponseAsync;

    /// <summary>Attaches to an existing job and streams its events from the start, tokens from <paramref name="fromToken"/>.</summary>
    /// <param name="jobId">The job's id.</param>
    /// <param name="fromToken">Index of the first token to send; earlier tokens are not sent again.</param>
    /// <param name="deadline">When to give up on the stream (UTC); null for none.</param>
    /// <param name="cancellationToken">Ends the stream (the job itself keeps running).</param>
    public IAsyncEnumerable<JobEvent> WatchAsync(
        string jobId, int fromToken = 0, DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        ReadAllAsync(
            options => _inference.WatchJob(new WatchJobRequest { JobId = jobId, FromToken = fromToken }, options),
            deadline,
            cancellationToken);

    /// <summary>Cancels a queued or running job and returns it.</summary>
    /// <param name="jobId">The job's id.</param>
    /// <param name="deadline">When to give up on the call (UTC); null for none.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<Job> CancelAsync(
        string jobId, DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        _inference.CancelJobAsync(
            new CancelJobRequest { JobId = jobId }, Options(deadline, cancellationToken)).ResponseAsync;

    /// <summary>Lists the calling tenant's jobs, newest first: one page of them (filters and paging in
    /// <paramref name="request"/>; pass the response's next page token to go on).</summary>
    /// <param name="request">Filters, page size and page token.</param>
    /// <param name="deadline">When to give up on the call (UTC); null for none.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<ListJobsResponse> ListAsync(
        ListJobsRequest request, DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        _inference.ListJobsAsync(request, Options(deadline, cancellationToken)).ResponseAsync;

    /// <summary>
    /// Submits a job, streams it to its end and returns what it produced. A job that fails is returned with
    /// <see cref="JobResult.Error"/> set; a gRPC error (bad request, quota, credentials, transport) throws.
    /// </summary>
    /// <param name="request">The job.</param>
    /// <param name="onTokens">Called, as they arrive, with each token chunk not received before.</param>
    /// <param name="deadline">When to give up on the stream (UTC); null for none.</param>
    /// <param name="cancellationToken">Ends the stream.</param>
    /// <exception cref="RpcException">The call failed.</exception>
    public Task<JobResult> RunAsync(
        SubmitJobRequest request,
        Action<TokenChunk>? onTokens = null,
        DateTime? deadline = null,
        CancellationToken cancellationToken = default) =>
        CollectAsync(StreamAsync(request, deadline, cancellationToken), onTokens);

    /// <summary>
    /// Attaches to an existing job, streams it to its end and returns what it produced, like <see cref="RunAsync"/>.
    /// </summary>
    /// <param name="jobId">The job's id.</param>
    /// <param name="fromToken">Index of the first token to send; earlier tokens are not sent again.</param>
    /// <param name="onTokens">Called, as they arrive, with each token chunk not received before.</param>
    /// <param name="deadline">When to give up on the stream (UTC); null for none.</param>
    /// <param name="cancellationToken">Ends the stream (the job itself keeps running).</param>
    /// <exception cref="RpcException">The call failed.</exception>
    public Task<JobResult> AttachAsync(
        string jobId,
        int fromToken = 0,
        Action<TokenChunk>? onTokens = null,
        DateTime? deadline = null,
        CancellationToken cancellationToken = default) =>
        CollectAsync(WatchAsync(jobId, fromToken, deadline, cancellationToken), onTokens);

    /// <summary>Closes the channel if this client opened it.</summary>
    public void Dispose() => _connection.Dispose();

    // The call starts when the enumeration does, and ends with it.
    private static async IAsyncEnumerable<JobEvent> ReadAllAsync(
        Func<CallOptions, AsyncServerStreamingCall<JobEvent>> start,
        DateTime? deadline,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var call = start(Options(deadline, cancellationToken));
        await foreach (var jobEvent in call.ResponseStream.ReadAllAsync(cancellationToken))
        {
            yield return jobEvent;
        }
    }

    private static async Task<JobResult> CollectAsync(IAsyncEnumerable<JobEvent> events, Action<TokenChunk>? onTokens)
    {
        var builder = new JobResultBuilder();
        await builder.ReadAsync(events, onTokens);
        return builder.Build();
    }
}
