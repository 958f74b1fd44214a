using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Scheduler.Tests;

/// <summary>The tests' fake gRPC peers (a worker node, a node registry, a front door): one Kestrel app on loopback,
/// HTTP/2 only, serving one instance of a generated service base the test scripts.</summary>
internal static class LoopbackGrpcApp
{
    /// <summary>An app serving <paramref name="service"/> on <paramref name="port"/> (0: a free one, read back from the
    /// app's URLs once started).</summary>
    public static WebApplication Serving<TService>(TService service, int port = 0) where TService : class
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port, l => l.Protocols = HttpProtocols.Http2));
        builder.Services.AddRouting();
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(service);
        var app = builder.Build();
        app.MapGrpcService<TService>();
        return app;
    }
}
