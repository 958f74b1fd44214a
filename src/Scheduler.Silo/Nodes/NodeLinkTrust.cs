using Scheduler.Protos.Tls;

namespace Scheduler.Silo.Nodes;

/// <summary>What the silo trusts when it dials worker nodes: the configured CA, or null for the system's (and
/// cleartext). The CA file is read again every <c>Scheduler:Tls:ReloadInterval</c>, so a CA added to it is trusted
/// by the next link dialled without a restart.</summary>
internal sealed class NodeLinkTrust : IDisposable
{
    public const string TrustedCaSetting = "Scheduler:Nodes:TrustedCaPath";

    private readonly IDisposable? _reload;

    public NodeLinkTrust(TrustedCa? trustedCa, TimeSpan reloadInterval, TimeProvider time, ILogger<NodeLinkTrust> logger)
    {
        TrustedCa = trustedCa;
        _reload = trustedCa?.ReloadEvery(reloadInterval, time, logger);
    }

    public TrustedCa? TrustedCa { get; }

    /// <summary>Reads the CA now, so a bad path stops the silo at start-up with the setting's name.</summary>
    /// <exception cref="ArgumentException">The CA file is missing or not PEM.</exception>
    public static TrustedCa? ReadCa(NodeOptions options) =>
        TrustedCa.LoadOrNull(options.Nodes.TrustedCaPath, TrustedCaSetting, options.Nodes.ServerName);

    public void Dispose() => _reload?.Dispose();
}
