using System.Net;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
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
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
        builder.Services.AddRouting();
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(this);
        _app = builder.Build();
        _app.MapGrpcService<RefusingWatchServer>();
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
