namespace Scheduler.Silo.Nodes;

/// <summary>How the silo and worker nodes trust each other (section "Scheduler").</summary>
public sealed class NodeOptions
{
    /// <summary>Token worker nodes present to register, and the scheduler presents to them. The default is a
    /// well-known development token.</summary>
    public string NodeToken { get; set; } = "dev-node-token";

    /// <summary>TLS of the links to worker nodes (section "Scheduler:Nodes").</summary>
    public NodeLinkTlsOptions Nodes { get; set; } = new();
}
