using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace Scheduler.Silo.Hosting;

/// <summary>The addresses the silo really listens on (ports may be chosen at start-up when configured as 0).</summary>
public sealed class ListeningAddresses(IServer server, IOptions<ListeningOptions> options)
{
    /// <summary>The gRPC (HTTP/2) address, e.g. "http://127.0.0.1:5000".</summary>
    public string Grpc => Find(options.Value.GrpcPort, order: 0);

    /// <summary>The HTTP/1.1 address for /metrics, /healthz and /dashboard.</summary>
    public string Http => Find(options.Value.HttpPort, order: 1);

    /// <summary>The OpenAI-compatible API's HTTP/1.1 address, e.g. "http://127.0.0.1:8080".</summary>
    public string OpenAi => Find(options.Value.OpenAiPort, order: 2);

    private string Find(int configuredPort, int order)
    {
        var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses.ToList()
            ?? throw new InvalidOperationException("The silo is not listening yet.");

        // With fixed ports, match by port; with port 0, Kestrel lists endpoints in the order they were configured.
        var match = configuredPort != 0
            ? addresses.FirstOrDefault(a => new Uri(a).Port == configuredPort)
            : addresses.ElementAtOrDefault(order);
        return (match ?? throw new InvalidOperationException("The silo is not listening yet.")).Replace("[::]", "127.0.0.1", StringComparison.Ordinal);
    }
}
