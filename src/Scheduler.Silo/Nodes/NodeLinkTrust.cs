using Scheduler.Protos.Tls;

namespace Scheduler.Silo.Nodes;

/// <summary>What the silo trusts when it dials worker nodes: the configured CA, or null for the system's (and cleartext).</summary>
internal sealed class NodeLinkTrust(TrustedCa? trustedCa)
{
    public const string TrustedCaSetting = "Scheduler:Nodes:TrustedCaPath";

    public TrustedCa? TrustedCa { get; } = trustedCa;

    /// <summary>Reads the CA now, so a bad path stops the silo at start-up with the setting's name.</summary>
    /// <exception cref="ArgumentException">The CA file is missing or not PEM.</exception>
    public static NodeLinkTrust From(NodeOptions options) =>
        new(TrustedCa.LoadOrNull(options.Nodes.TrustedCaPath, TrustedCaSetting, options.Nodes.ServerName));
}
