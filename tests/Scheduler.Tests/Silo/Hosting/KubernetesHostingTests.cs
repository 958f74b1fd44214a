using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Hosting.Kubernetes;
using Scheduler.Silo.Hosting;

namespace Scheduler.Tests.Silo.Hosting;

/// <summary>
/// The switch the Helm chart turns on. Orleans' Kubernetes hosting needs an API server to start, which no test has,
/// so these build the silo without starting it and look at what it registered.
/// </summary>
public sealed class KubernetesHostingTests
{
    private static readonly string[] RedisSilo =
    [
        "--Scheduler:GrpcPort=0", "--Scheduler:HttpPort=0", "--Scheduler:OpenAiPort=0", "--Scheduler:EmbeddedFleet:Enabled=false",
        "--Scheduler:Clustering=redis", "--Scheduler:Redis=127.0.0.1:1",
    ];

    [Fact]
    public async Task Build_ByDefault_LeavesKubernetesHostingOff()
    {
        await using var app = SchedulerHost.Build(RedisSilo);

        Assert.DoesNotContain(app.Services.GetServices<IConfigureOptions<KubernetesHostingOptions>>(), IsOrleansKubernetesHosting);
    }

    [Fact]
    public async Task Build_WhenEnabledWithRedisClustering_AddsOrleansKubernetesHosting()
    {
        await using var app = SchedulerHost.Build([.. RedisSilo, "--Scheduler:Kubernetes:Enabled=true"]);

        Assert.Contains(app.Services.GetServices<IConfigureOptions<KubernetesHostingOptions>>(), IsOrleansKubernetesHosting);
    }

    [Fact]
    public void Build_WhenEnabledWithLocalhostClustering_Refuses_NamingBothSettings()
    {
        var error = Assert.Throws<ConfigurationRefusedException>(() =>
            SchedulerHost.Build(["--Scheduler:GrpcPort=0", "--Scheduler:HttpPort=0", "--Scheduler:OpenAiPort=0", "--Scheduler:Kubernetes:Enabled=true"]));

        Assert.Contains("Scheduler:Kubernetes:Enabled", error.Message, StringComparison.Ordinal);
        Assert.Contains("Scheduler:Clustering", error.Message, StringComparison.Ordinal);
    }

    private static bool IsOrleansKubernetesHosting(IConfigureOptions<KubernetesHostingOptions> configure) =>
        configure.GetType().Assembly == typeof(KubernetesHostingOptions).Assembly;
}
