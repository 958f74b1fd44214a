using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Scheduler.Protos.Errors;
using Scheduler.Protos.V1;

namespace Scheduler.Tests.Cli;

/// <summary>
/// A scheduler front door on a loopback port whose WatchJob sends one event of <see cref="JobId"/> and then fails
/// with INVALID_ARGUMENT naming <c>from_token</c> in its message and in the <c>google.rpc.BadRequest</c> of its
/// trailers, as the silo's refusals do: a stream that broke after it began, with an error no resumption helps.
/// </summary>
internal sealed class RefusingWatchServer : InferenceService.InferenceServiceBase, IAsyncDisposable
{
    public const string JobId = "job-refused-mid-stream";
    public const string Problem = "must not be past the job's last token";

    private readonly WebApplication _app;

    private RefusingWatchServer()
    {
        _app = LoopbackGrpcApp.Serving(this);
    }

    public string Address => _app.Urls.Single();

    public static async Task<RefusingWatchServer> StartAsync()
    {
        var server = new RefusingWatchServer();
        await server._app.StartAsync();
        return server;
    }

    public override async Task WatchJob(WatchJobRequest request, IServerStreamWriter<JobEvent> responseStream, ServerCallContext context)
    {
        await responseStream.WriteAsync(new JobEvent { JobId = JobId, Queued = new JobQueued() });
        throw RichErrors.InvalidArgument("from_token", Problem);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
