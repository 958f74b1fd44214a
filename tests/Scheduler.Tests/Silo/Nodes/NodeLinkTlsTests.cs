using Scheduler.Client;
using Scheduler.Protos.V1;
using Scheduler.Tests.EndToEnd;
using Scheduler.Worker.Hosting;

namespace Scheduler.Tests.Silo.Nodes;

/// <summary>The CA a silo trusts for its node links (<c>Scheduler:Nodes:TrustedCaPath</c>) follows its file.</summary>
public sealed class NodeLinkTlsTests : IDisposable
{
    private const string Model = "llama-3.1-8b";
    private const string TenantKey = "node-ca-tenant-key";

    private readonly TestCertificates _oldCa = new();
    private readonly TestCertificates _newCa = new("Scheduler Test CA 2");

    public void Dispose()
    {
        _oldCa.Dispose();
        _newCa.Dispose();
    }

    [Fact]
    public async Task RunJob_NodeCertificateFromACaAddedToTheBundleAfterStart_CompletesOverTheTlsLinkWithoutARestart()
    {
        // The CA rotation: the node already serves a certificate from the new CA; the silo's bundle holds the old one.
        var (certificate, key) = _newCa.Issue("node", "127.0.0.1");
        var oldBundle = File.ReadAllText(_oldCa.CaPath);
        var bundle = new SecretVolume(Path.Combine(_oldCa.Folder, "nodes-ca"), ("ca.crt", oldBundle));
        await using var scheduler = await LoopbackScheduler.StartAsync(
            Model, "node-ca-tenant", TenantKey, $"--Scheduler:Nodes:TrustedCaPath={bundle.PathOf("ca.crt")}", "--Scheduler:Tls:ReloadInterval=00:00:00.2");
        var options = new WorkerNodeOptions
        {
            NodeId = "node-ca", SpeedUp = WorkerNodeOptions.InstantSpeedUp, Tls = { CertificatePath = certificate, KeyPath = key },
        };
        options.Accelerators.Add(new AcceleratorOptions { Product = "L4", MaxSequences = 1 });
        await scheduler.StartNodeAsync(options);
        using var client = new SchedulerClient(scheduler.Address, TenantKey);
        var request = new SubmitJobRequest { Model = Model, MaxTokens = 8 };
        request.PromptTokenIds.AddRange(Enumerable.Range(1, 20));

        bundle.Update(("ca.crt", oldBundle + "\n" + File.ReadAllText(_newCa.CaPath)));
        var result = await client.RunAsync(request, deadline: DateTime.UtcNow.AddSeconds(30));

        Assert.True(result.Succeeded, $"{result.Status} {result.Error}");
        Assert.Equal(8, result.TokenCount);
    }
}
