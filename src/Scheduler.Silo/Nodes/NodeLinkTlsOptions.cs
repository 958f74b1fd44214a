namespace Scheduler.Silo.Nodes;

/// <summary>
/// TLS of the execution streams to worker nodes (section "Scheduler:Nodes"). With a CA set, every node must register
/// an https:// address and present a certificate that chains to that CA and names the host registered (or
/// <see cref="ServerName"/>); without one, nodes may be cleartext, and https nodes are checked against the system's CAs.
/// </summary>
public sealed class NodeLinkTlsOptions
{
    /// <summary>PEM file of the CA (or CAs) that signed the worker nodes' certificates, e.g. <c>/tls/nodes/ca.crt</c>.</summary>
    public string? TrustedCaPath { get; set; }

    /// <summary>The name every node certificate must carry instead of the host the node registered (its pod IP on
    /// Kubernetes, which a shared certificate cannot list), e.g. "scheduler-worker". Empty checks the host.</summary>
    public string? ServerName { get; set; }
}
