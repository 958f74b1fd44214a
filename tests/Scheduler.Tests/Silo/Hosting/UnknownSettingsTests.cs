using Scheduler.Protos.Settings;
using Scheduler.Silo.Hosting;

namespace Scheduler.Tests.Silo.Hosting;

/// <summary>A silo warns of every key under "Scheduler" that no setting reads, with the key it most likely meant: a
/// misspelt setting was silently ignored (an operator probe's `PlacementPolcy=…`).</summary>
public sealed class UnknownSettingsTests
{
    // Every key the Helm chart renders for the silo with its examples (ConfigMap and environment), as of this change, and
    // a few from the silo's other sections.
    private static readonly string[] ChartKeys =
    [
        "AdminKeyFile", "AdvertisedAddress", "BindAddress", "ClusterId", "Clustering", "GatewayPort", "GrpcPort", "HttpPort",
        "Kubernetes:Enabled", "MaxStreamsPerConnection", "Models:0:ChatTemplate", "Models:0:DefaultTtftObjectiveMs",
        "Models:0:MaxContextTokens", "Models:0:MaxOutputTokens", "Models:0:MaxPromptBytes", "Models:0:Name", "Models:0:Tokenizer", "Models:0:VocabularySize",
        "NodeToken", "Nodes:ServerName", "Nodes:TrustedCaPath", "OpenAiPort", "Redis", "Scheduling:BatchingPolicy",
        "Scheduling:FairnessPolicy", "Scheduling:OverloadQueueLength", "Scheduling:PlacementPolicy",
        "Scheduling:WaitCostUsdPerSecond", "ServiceId", "SiloPort", "Tenants:1:ApiKey", "Tenants:1:Id", "Tenants:1:MaxQueuedJobs",
        "Tenants:1:Weight", "Tls:CertificatePath", "Tls:KeyPath", "AdminApiKeys:0", "Dashboard:GrainMethodProfiling",
        "Scheduling:Capacity:TargetUtilisation", "Telemetry:GaugeRefresh", "Scheduling:Capacity:MaxReplicasPerPool",
    ];

    // The sections a silo declares as it is built.
    private static readonly KnownSettings Known = new(
        SchedulerHost.CreateBuilder([]).Services.Select(d => d.ImplementationInstance).OfType<SettingsSection>().Select(s => (s.Path, s.Type)));

    [Fact]
    public void Unknown_EveryKeyTheChartSets_IsKnown()
    {
        Assert.Empty(Unknown([.. ChartKeys.Select(k => $"Scheduler:{k}")]));
    }

    [Fact]
    public void Unknown_NamesEachMisspeltKey_AndTheKeyItMeant()
    {
        var unknown = Unknown(
            "Scheduler:PlacementPolcy", "Scheduler:Tenants:1:Wieght", "Scheduler:Models:0:MaxContxtTokens", "Scheduler:Frobnicate", "Scheduler:EmbeddedFleet:Enabled");

        Assert.Equal(
            [("Scheduler:EmbeddedFleet:Enabled", "Scheduler:Kubernetes:Enabled"), ("Scheduler:Frobnicate", null),
             ("Scheduler:Models:0:MaxContxtTokens", "Scheduler:Models:0:MaxContextTokens"),
             ("Scheduler:PlacementPolcy", "Scheduler:Scheduling:PlacementPolicy"), ("Scheduler:Tenants:1:Wieght", "Scheduler:Tenants:1:Weight")],
            unknown);
    }

    private static IReadOnlyList<(string Key, string? Meant)> Unknown(params string[] keys) => Known.Unknown(
        keys.Select(k => KeyValuePair.Create(k, (string?)"1")));
}
