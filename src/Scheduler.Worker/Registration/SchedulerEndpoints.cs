using Grpc.Net.Client;
using Scheduler.Protos.Tls;
using Scheduler.Protos.V1;

namespace Scheduler.Worker.Registration;

/// <summary>
/// The scheduler silos a node may talk to, tried in turn: any silo accepts registrations and heartbeats (the node's
/// grain lives wherever the cluster put it), so when one dies or drains the node simply moves on to the next.
/// </summary>
internal sealed class SchedulerEndpoints : IDisposable
{
    private readonly (string Address, GrpcChannel Channel)[] _silos;
    private int _current;

    /// <param name="addresses">Comma-separated http:// or https:// addresses.</param>
    /// <param name="trustedCa">The CA https silos' certificates must chain to; null trusts the system's.</param>
    public SchedulerEndpoints(string addresses, TrustedCa? trustedCa)
    {
        // Heartbeats' deadlines tell a silo that stopped answering, so no pings.
        _silos = [.. Parse(addresses).Select(a => (a, SchedulerChannels.ToSilo(a, trustedCa, liveness: null)))];
    }

    public bool IsEmpty => _silos.Length == 0;

    public int Count => _silos.Length;

    public string Address => _silos[_current].Address;

    public NodeRegistryService.NodeRegistryServiceClient Client => new(_silos[_current].Channel);

    /// <summary>Moves to the next silo after a failed call.</summary>
    public void Next() => _current = (_current + 1) % _silos.Length;

    /// <summary>Comma-separated addresses, e.g. "http://10.0.0.1:5000,http://10.0.0.2:5000"; each must be an absolute
    /// http:// or https:// URL, checked at start-up (a node given "127.0.0.1:5000" had started, then stopped with a
    /// stack trace and exit code 0 once its registration tried to dial it).</summary>
    public static string[] Parse(string? addresses)
    {
        var parsed = addresses?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];
        foreach (var address in parsed)
        {
            if (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                throw new ArgumentException(
                    $"Worker:SchedulerAddress must be http:// or https:// URLs separated by commas, e.g. http://127.0.0.1:5000; '{address}' is not one.");
            }
        }

        return parsed;
    }

    public void Dispose()
    {
        foreach (var (_, channel) in _silos)
        {
            channel.Dispose();
        }
    }
}
