using Scheduler.Tests.Faults;

namespace Scheduler.Tests.Silo.Hosting;

/// <summary>A silo given a setting it refuses stops at start-up with exit code 2 and one line naming the key, not an
/// unhandled exception and an abort, and without a stack trace above that line (an operator probe found each of the
/// rows below aborting with one, or starting a silo that could not serve).</summary>
public sealed class ConfigurationRefusalTests
{
    [Theory]
    [InlineData("--Scheduler:Scheduling:WaitCostUsdPerSecond=3.6", "Scheduler:Scheduling:WaitCostUsdPerSecond must be from 0 to 1")]
    [InlineData("--Scheduler:Scheduling:SessionWaitCostUsdPerSecond=3.6", "Scheduler:Scheduling:SessionWaitCostUsdPerSecond must be from 0 to 1")]
    [InlineData("--Scheduler:Scheduling:JobRetention=00:00:00", "Scheduler:Scheduling:JobRetention (formerly JobListRetention) must be positive")]
    [InlineData("--Scheduler:Scheduling:JobListRetention=00:00:00", "Scheduler:Scheduling:JobRetention (formerly JobListRetention) must be positive")]
    [InlineData("--Scheduler:Scheduling:MaxSettledJobsInMemory=0", "Scheduler:Scheduling:MaxSettledJobsInMemory must be from 1 to 10000000; it is 0")]
    [InlineData("--Scheduler:Scheduling:IdempotencyKeyLifetime=8.00:00:00", "Scheduler:Scheduling:IdempotencyKeyLifetime must be positive and at most Scheduler:Scheduling:JobRetention (7.00:00:00)")]
    [InlineData("--Scheduler:Scheduling:HeartbeatInterval=00:00:00", "Scheduler:Scheduling:HeartbeatInterval must be positive and at most 01:00:00; it is 00:00:00")]
    [InlineData("--Scheduler:Scheduling:RejectionHold=-00:00:05", "Scheduler:Scheduling:RejectionHold must be positive and at most 01:00:00; it is -00:00:05")]
    [InlineData("--Scheduler:Scheduling:PlacementPolicy=cheapest", "Scheduler:Scheduling:PlacementPolicy must be one of ")]
    [InlineData("--Scheduler:Scheduling:FairnessPolicy=fair", "Scheduler:Scheduling:FairnessPolicy must be one of ")]
    [InlineData("--Scheduler:Tenants:0:Weight=0", "Scheduler:Tenants:0:Weight must be a number from 0.001 to 1000, not 0")]
    [InlineData("--Scheduler:MaxStreamsPerConnection=0", "Scheduler:MaxStreamsPerConnection must be at least 1, not 0.")]
    [InlineData("--Scheduler:HttpPort=abc", "Failed to convert configuration value 'abc' at 'Scheduler:HttpPort'")]
    [InlineData("--Scheduler:Tls:CertificatePath=/nonexistent/tls.crt", "Scheduler:Tls:CertificatePath is set but Scheduler:Tls:KeyPath is empty")]
    [InlineData("--Scheduler:Models:0:Tokenizer=nosuch", "Scheduler:Models:0:Tokenizer 'nosuch' is not a tokenizer this silo has")]
    [InlineData("--Scheduler:Models:0:MaxContextTokens=-5", "Scheduler:Models:0:MaxContextTokens must be at least 1, not -5")]
    [InlineData("--Scheduler:Models:1:Name=llama-3.1-8b", "Scheduler:Models:1:Name 'llama-3.1-8b' is another entry's")]
    [InlineData("--Scheduler:MaxReceiveMessageBytes=lots", "Failed to convert configuration value 'lots' at 'Scheduler:MaxReceiveMessageBytes'")]
    [InlineData("--Scheduler:MaxConnectionsPerPort=0", "Scheduler:MaxConnectionsPerPort must be at least 1, not 0")]
    [InlineData("--Scheduler:MaxRequestBodyBytesInFlight=1048576", "Scheduler:MaxRequestBodyBytesInFlight must be at least Scheduler:MaxReceiveMessageBytes (8388608 bytes), so the largest request body can be read; it is 1048576")]
    [InlineData("--Scheduler:MaxRequestBodyBytesPerTenant=1048576", "Scheduler:MaxRequestBodyBytesPerTenant must be at least Scheduler:MaxReceiveMessageBytes (8388608 bytes), so a tenant's largest request body can be read, and at most Scheduler:MaxRequestBodyBytesInFlight (67108864 bytes); it is 1048576")]
    [InlineData("--Scheduler:OpenAiStreamKeepAliveSeconds=-15", "Scheduler:OpenAiStreamKeepAliveSeconds must be 0 or more (seconds; 0 sends none); it is -15")]
    [InlineData("--Scheduler:Tenants:1:Weight=heavy", "Failed to convert configuration value 'heavy' at 'Scheduler:Tenants:1:Weight'")] // the binder dropped the tenant
    [InlineData("--Scheduler:Redis=127.0.0.1:6379", "Scheduler:Redis is set but Scheduler:Clustering is 'localhost'")] // it served alone, in memory
    [InlineData("--Scheduler:NodeToken=", "Scheduler:NodeToken is empty: worker nodes send it")] // it started, and refused every node
    [InlineData("--Scheduler:NodeToken=  ", "Scheduler:NodeToken is only whitespace: worker nodes send it")]
    [InlineData("--Scheduler:NodeToken= dev-node-token", "Scheduler:NodeToken begins or ends with whitespace")]
    public async Task Silo_ARefusedSetting_ExitsWithCode2_AndALineNamingTheKey(string setting, string refusal)
    {
        await using var silo = SiloProcess.Start(0, [setting]);
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        await silo.WaitForExitAsync(bound.Token);

        Assert.Equal(2, silo.ExitCode);
        Assert.Contains(silo.Output, line => line.StartsWith("configuration refused: " + refusal, StringComparison.Ordinal));
        Assert.DoesNotContain(silo.Output, line => line.TrimStart().StartsWith("at ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Silo_Started_LogsWhereItsStateLives_ItsModels_AndItsPolicies()
    {
        await using var silo = SiloProcess.Start(0, []);

        await Polling.Until(() => silo.Output.Any(line => line.Contains("Scheduler silo:", StringComparison.Ordinal)), "the start-up line", TimeSpan.FromSeconds(60));

        var line = silo.Output.First(l => l.Contains("Scheduler silo:", StringComparison.Ordinal));
        Assert.Contains("localhost clustering, state in memory, a cluster of this silo alone; models llama-3.1-8b; placement cost-aware, fairness weighted-fair, batching continuous", line, StringComparison.Ordinal);
    }
}
