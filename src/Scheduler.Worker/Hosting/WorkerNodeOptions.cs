using System.Globalization;
using Scheduler.Worker.Engines;

namespace Scheduler.Worker.Hosting;

/// <summary>
/// Settings of one worker node (configuration section <see cref="SectionName"/>): who it is, where it listens,
/// which scheduler it registers with, and which accelerators and models it offers.
/// </summary>
public sealed class WorkerNodeOptions
{
    /// <summary>The configuration section these options bind from.</summary>
    public const string SectionName = "Worker";

    /// <summary>The <see cref="SpeedUp"/> value that makes every engine step take no time.</summary>
    public const string InstantSpeedUp = "instant";

    // Only for a node on any free port (Port 0), whose address changes at every start anyway.
    private readonly string _ephemeralNodeId = $"{Environment.MachineName.ToLowerInvariant()}-{Guid.NewGuid().ToString("N")[..6]}";
    private string? _nodeId;

    /// <summary>Unique node id, the same across restarts so a restarted node is the same node to the scheduler (its
    /// accelerators' ids and cordons are derived from it). By default the machine name plus <see cref="Port"/>
    /// (e.g. <c>gpu-host-7-5100</c>), which tells two nodes on one host apart; with <see cref="Port"/> 0 (any free port)
    /// there is no stable default, and the machine name takes a random suffix (<see cref="HasStableNodeId"/> is false).
    /// Kubernetes: the Helm chart sets it to the pod's name.</summary>
    public string NodeId
    {
        get => _nodeId ?? (Port > 0 ? $"{Environment.MachineName.ToLowerInvariant()}-{Port}" : _ephemeralNodeId);
        // The configuration binder writes back what it read when the settings name no id, and it may read before it
        // has bound Port: the random default written back must stay a default, not become the id.
        set => _nodeId = value == _ephemeralNodeId ? null : value;
    }

    /// <summary>False when the node id is the random default of a node on any free port: each start is a new node.</summary>
    public bool HasStableNodeId => _nodeId is not null || Port > 0;

    /// <summary>Port of the gRPC (HTTP/2; TLS when <see cref="Tls"/> names a certificate) endpoint; 0 picks a free
    /// port, announced once bound.</summary>
    public int Port { get; set; }

    /// <summary>Port of a cleartext HTTP/1.1 endpoint serving only <c>/readyz</c> and <c>/livez</c> (the engines' health, as
    /// the gRPC health service reports it), <c>/healthz</c> (the process answers), for probes that cannot speak TLS — the
    /// kubelet's gRPC probe cannot — and <c>/metrics</c> for Prometheus. 0 (the default) serves none.</summary>
    public int HealthPort { get; set; }

    /// <summary>Host name or IP the scheduler uses to reach this node. A loopback value also binds loopback only.</summary>
    public string AdvertisedHost { get; set; } = "127.0.0.1";

    /// <summary>Scheduler silos to register with, comma-separated, e.g. "http://127.0.0.1:5000,http://127.0.0.1:5001"
    /// (https:// for silos that serve TLS); the node moves to the next when one fails. Empty serves without registering.</summary>
    public string? SchedulerAddress { get; set; }

    /// <summary>The node's certificate and the CA it trusts (section "Worker:Tls").</summary>
    public WorkerTlsOptions Tls { get; } = new();

    /// <summary>Shared secret: sent to the scheduler on registration and required from it on every call.</summary>
    public string NodeToken { get; set; } = "dev-node-token";

    /// <summary>How many times faster than the profile the simulated engines run: a positive number,
    /// or "instant" (or 0) for steps that take no time.</summary>
    public string SpeedUp { get; set; } = "1";

    /// <summary>The engine of every replica whose accelerator group names none: "simulated" (the default: batches like
    /// a real engine at an accelerator profile's speed, computing nothing) or "llama" (runs <see cref="Model"/> with
    /// llama.cpp) or "upstream" (forwards to the OpenAI-compatible server of <see cref="AcceleratorOptions.Upstream"/>);
    /// see docs/engines.md.</summary>
    public string Engine { get; set; } = EngineNames.Simulated;

    /// <summary>The GGUF model and llama.cpp settings of the "llama" engine, e.g. <c>--Worker:Model:Path=/models/m.gguf</c>.</summary>
    public LlamaModelOptions Model { get; } = new();

    /// <summary>The OpenAI-compatible server of the "upstream" engine for accelerator groups that set no
    /// <see cref="AcceleratorOptions.Upstream"/> of their own, e.g. <c>--Worker:Upstream:BaseUrl=http://vllm:8000</c>.</summary>
    public UpstreamOptions Upstream { get; } = new();

    /// <summary>Seconds a stopping node (SIGTERM, as Kubernetes sends before removing a pod) keeps running what it runs
    /// while the scheduler sends it nothing new, before it hands what is left back to resume elsewhere; 0 hands everything
    /// back at once. Keep it under the pod's termination grace period (the Helm chart passes that less 5 s).</summary>
    public double DrainTimeoutSeconds { get; set; } = 20;

    /// <summary>Accelerators of this node; one A100 serving the default model when empty.</summary>
    public IList<AcceleratorOptions> Accelerators { get; } = [];

    /// <summary>The speed-up as a factor for <see cref="Policies.Profiles.AcceleratorProfile.Accelerated"/>.</summary>
    internal double SpeedUpFactor()
    {
        var text = SpeedUp.Trim();
        if (text.Equals(InstantSpeedUp, StringComparison.OrdinalIgnoreCase))
        {
            return double.PositiveInfinity;
        }

        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var factor) || factor < 0 || double.IsNaN(factor))
        {
            throw new ArgumentException($"Worker:SpeedUp must be a positive number or \"{InstantSpeedUp}\", not \"{SpeedUp}\".", nameof(SpeedUp));
        }

        return factor == 0 ? double.PositiveInfinity : factor;
    }
}
