namespace Scheduler.Silo.Hosting;

/// <summary>Where the silo listens (section "Scheduler").</summary>
public sealed class ListeningOptions
{
    /// <summary>Cleartext HTTP/2 port for gRPC (InferenceService, AdminService, NodeRegistryService, health). 0 = any free port.</summary>
    public int GrpcPort { get; set; } = 5000;

    /// <summary>HTTP/1.1 port for /metrics, /healthz and the Orleans dashboard. 0 = any free port.</summary>
    public int HttpPort { get; set; } = 5080;

    /// <summary>
    /// HTTP/1.1 port for the OpenAI-compatible API (/v1/...), apart from <see cref="HttpPort"/> so a network policy can
    /// let clients reach it and nothing else. 0 = any free port.
    /// </summary>
    public int OpenAiPort { get; set; } = 8080;

    /// <summary>Address the ports bind to.</summary>
    public string BindAddress { get; set; } = "127.0.0.1";
}
