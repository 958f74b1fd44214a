namespace Scheduler.Silo.Hosting;

/// <summary>Kubernetes hosting (section "Scheduler:Kubernetes"); see <see cref="KubernetesHosting"/>.</summary>
public sealed class KubernetesOptions
{
    /// <summary>The section these settings live in.</summary>
    public const string Section = "Kubernetes";

    /// <summary>Runs the silo as a Kubernetes pod (off by default; the Helm chart and the kustomize base turn it on).</summary>
    public bool Enabled { get; set; }
}
