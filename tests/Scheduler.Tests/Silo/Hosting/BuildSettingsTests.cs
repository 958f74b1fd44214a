using Scheduler.Silo.Hosting;

namespace Scheduler.Tests.Silo.Hosting;

/// <summary>The settings a silo reads while it is built refuse a mistake with a <see cref="ConfigurationRefusedException"/>
/// naming the key, where Kestrel, Orleans or the configuration binder failed with a message that named none.</summary>
public sealed class BuildSettingsTests
{
    [Theory]
    [InlineData("--Scheduler:GrpcPort=70000", "Scheduler:GrpcPort must be a port from 0 to 65535 (0 = any free port), not 70000.")]
    [InlineData("--Scheduler:OpenAiPort=-1", "Scheduler:OpenAiPort must be a port from 0 to 65535 (0 = any free port), not -1.")]
    [InlineData("--Scheduler:SiloPort=0", "Scheduler:SiloPort must be a port from 1 to 65535, not 0.")]
    [InlineData("--Scheduler:GatewayPort=65536", "Scheduler:GatewayPort must be a port from 1 to 65535, not 65536.")]
    [InlineData("--Scheduler:BindAddress=localhost", "Scheduler:BindAddress must be an IP address (0.0.0.0 for every interface), not 'localhost'.")]
    [InlineData("--Scheduler:HttpPort=abc", "Failed to convert configuration value 'abc' at 'Scheduler:HttpPort' to type 'System.Int32'.")]
    [InlineData("--Scheduler:Clustering=zookeeper", "Scheduler:Clustering must be 'localhost' or 'redis', not 'zookeeper'.")]
    [InlineData("--Scheduler:Redis=127.0.0.1:6379", "Scheduler:Redis is set but Scheduler:Clustering is 'localhost', which keeps state in memory and forms a cluster of one silo: set Scheduler:Clustering=redis to use Redis, or leave Scheduler:Redis empty.")]
    [InlineData("--Scheduler:Dashboard:GrainMethodProfiling=sometimes", "Failed to convert configuration value 'sometimes' at 'Scheduler:Dashboard:GrainMethodProfiling' to type 'System.Boolean'.")]
    public void Build_ASettingThatCannotWork_IsRefusedNamingItsKey(string setting, string refusal)
    {
        var error = Assert.Throws<ConfigurationRefusedException>(() => SchedulerHost.Build(["--Scheduler:HttpPort=0", "--Scheduler:OpenAiPort=0", setting]));

        Assert.Equal(refusal, error.Message);
    }

    [Theory]
    [InlineData("--Scheduler:Redis=", "Scheduler:Redis (host:port) must be set when Scheduler:Clustering is 'redis'.")]
    [InlineData("--Scheduler:AdvertisedAddress=pod-1", "Scheduler:AdvertisedAddress must be an IP address (the pod IP on Kubernetes), not 'pod-1'.")]
    [InlineData("--Scheduler:MissedProbesLimit=0", "Scheduler:MissedProbesLimit must be at least 1, not 0.")]
    [InlineData("--Scheduler:ProbeTimeout=00:00:00", "Scheduler:ProbeTimeout must be positive, not 00:00:00.")]
    [InlineData("--Scheduler:ClusterId= ", "Scheduler:ClusterId must not be empty.")]
    [InlineData("--Scheduler:Redis=127.0.0.1:6379,ssl=maybe", "Scheduler:Redis is not a StackExchange.Redis configuration string: ")]
    public void Build_RedisClusteringSettingThatCannotWork_IsRefusedNamingItsKey(string setting, string refusal)
    {
        var error = Assert.Throws<ConfigurationRefusedException>(() => SchedulerHost.Build(
            ["--Scheduler:Clustering=redis", "--Scheduler:Redis=127.0.0.1:6379", "--Scheduler:HttpPort=0", "--Scheduler:OpenAiPort=0", setting]));

        Assert.StartsWith(refusal, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void From_AnArgumentException_DropsTheParameterSuffix_AndKeepsTheMessage()
    {
        var refusal = ConfigurationRefusedException.From(new ArgumentException("Scheduler:Tls:KeyPath: the file 'x' does not exist.", "Scheduler:Tls:KeyPath"));

        Assert.Equal("Scheduler:Tls:KeyPath: the file 'x' does not exist.", refusal.Message);
    }
}
