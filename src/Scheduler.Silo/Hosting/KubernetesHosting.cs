namespace Scheduler.Silo.Hosting;

/// <summary>
/// Runs the silo as a Kubernetes pod when <c>Scheduler:Kubernetes:Enabled</c> is true (off by default; the Helm
/// chart and the kustomize base turn it on). Orleans' Kubernetes hosting names the silo after its pod
/// (<c>POD_NAME</c>), advertises the pod IP (<c>POD_IP</c>) and watches the pods of its namespace
/// (<c>POD_NAMESPACE</c>, through the pod's service account) so that a silo whose pod is deleted is declared dead
/// at once instead of after missed probes. It is not a membership provider: silos still find each other and keep
/// their state through Redis, so it needs <c>Scheduler:Clustering=redis</c>.
/// </summary>
internal static class KubernetesHosting
{
    /// <summary>The setting that switches it on.</summary>
    public const string EnabledKey = "Scheduler:Kubernetes:Enabled";

    public static void Configure(ISiloBuilder silo, ClusteringOptions options)
    {
        if (!Settings.Read<KubernetesOptions>(silo.Configuration.GetSection($"{SchedulerHost.Section}:{KubernetesOptions.Section}")).Enabled)
        {
            return;
        }

        if (options.Clustering != ClusterHosting.Redis)
        {
            throw new ConfigurationRefusedException(
                $"{EnabledKey} is true but Scheduler:Clustering is '{options.Clustering}': Kubernetes hosting needs '{ClusterHosting.Redis}' clustering.");
        }

        silo.UseKubernetesHosting();
    }
}
