using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Scheduler.Worker.Hosting;

namespace Scheduler.Tests.Worker;

/// <summary>A worker node host started on a free loopback port; stopped and disposed with the test.</summary>
internal sealed class StartedWorker(WebApplication app) : IAsyncDisposable
{
    public WorkerNode Node { get; } = app.Services.GetRequiredService<WorkerNode>();

    public IServiceProvider Services => app.Services;

    public static async Task<StartedWorker> StartAsync(WorkerNodeOptions options)
    {
        var app = WorkerNodeHost.Build(options);
        await app.StartAsync();
        return new StartedWorker(app);
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
