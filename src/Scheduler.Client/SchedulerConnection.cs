using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Scheduler.Protos.Tls;

namespace Scheduler.Client;

/// <summary>
/// The call invoker shared by a client's stubs: it adds <c>authorization: Bearer &lt;key&gt;</c> to every call
/// and owns the channel when the client created it.
/// </summary>
internal sealed class SchedulerConnection : IDisposable
{
    private readonly GrpcChannel? _ownedChannel;

    private SchedulerConnection(CallInvoker invoker, string apiKey, GrpcChannel? ownedChannel)
    {
        ArgumentNullException.ThrowIfNull(invoker);
        ArgumentException.ThrowIfNullOrWhiteSpace(apiKey);
        var authorization = "Bearer " + apiKey;
        Invoker = invoker.Intercept(headers =>
        {
            headers.Add("authorization", authorization);
            return headers;
        });
        _ownedChannel = ownedChannel;
    }

    /// <summary>The invoker every stub of the client calls through.</summary>
    public CallInvoker Invoker { get; }

    /// <summary>Opens a channel to <paramref name="address"/> (http:// for cleartext HTTP/2, https:// for TLS),
    /// trusting the CA in <paramref name="trustedCaPath"/> (a PEM file, read again at each handshake: a client may
    /// outlive a CA rotation) or, when null, the system's CAs. A silo that stops answering fails the channel's calls
    /// within about 15 s (<see cref="ConnectionLiveness.ToSilo"/>), so the failover runners move on from it, and one that
    /// was down is dialled again within <see cref="SchedulerChannels.SiloReconnectBackoff"/> of coming back.</summary>
    /// <exception cref="ArgumentException">The CA file is missing or holds no PEM certificate.</exception>
    public static SchedulerConnection ForAddress(string address, string apiKey, string? trustedCaPath, ILogger? logger = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(address);
        var trustedCa = TrustedCa.LoadOrNull(trustedCaPath, nameof(trustedCaPath))?.ReloadOnHandshake(logger ?? NullLogger.Instance);
        var channel = SchedulerChannels.ToSilo(address, trustedCa, ConnectionLiveness.ToSilo);
        return new SchedulerConnection(channel.CreateCallInvoker(), apiKey, channel);
    }

    /// <summary>Calls through a channel owned by the caller.</summary>
    public static SchedulerConnection ForChannel(ChannelBase channel, string apiKey)
    {
        ArgumentNullException.ThrowIfNull(channel);
        return new SchedulerConnection(channel.CreateCallInvoker(), apiKey, ownedChannel: null);
    }

    /// <summary>Calls through an invoker owned by the caller.</summary>
    public static SchedulerConnection ForInvoker(CallInvoker invoker, string apiKey) =>
        new(invoker, apiKey, ownedChannel: null);

    /// <summary>Builds the options of one call.</summary>
    public static CallOptions Options(DateTime? deadline, CancellationToken cancellationToken) =>
        new(deadline: deadline, cancellationToken: cancellationToken);

    /// <inheritdoc />
    public void Dispose() => _ownedChannel?.Dispose();
}
