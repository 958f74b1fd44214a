using System.Security.Cryptography.X509Certificates;
using Scheduler.Client;
using Scheduler.Protos.V1;
using Scheduler.Tests.EndToEnd;
using Scheduler.Tests.Silo.Telemetry;
using Scheduler.Worker.Hosting;
using Scheduler.Worker.Telemetry;

namespace Scheduler.Tests.Worker.Telemetry;

/// <summary>A worker node process's /metrics on its health port, scraped as Prometheus does: the engine's own view of
/// its replica while a job runs and after jobs ran, and when the certificate the node serves expires.</summary>
public sealed class WorkerMetricsTests : IDisposable
{
    private const string Model = "llama-3.1-8b";
    private const string TenantKey = "worker-metrics-key";

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private readonly HttpClient _http = new();
    private readonly TestCertificates _certificates = new();

    public void Dispose()
    {
        _http.Dispose();
        _certificates.Dispose();
    }

    [Fact]
    public async Task Metrics_JobsRanOnTheNode_ShowTheEnginesRunningSequenceKvCacheTokensAndSteps()
    {
        await using var scheduler = await LoopbackScheduler.StartAsync(Model, "metrics-tenant", TenantKey, $"--Scheduler:NodeToken={SchedulerCluster.NodeToken}");
        var healthPort = FreePort.Next();
        await using var worker = WorkerProcess.Start("metrics-node", scheduler.Address, "2", Model, [$"--Worker:HealthPort={healthPort}"], null, ("L4", 1, 4));
        await scheduler.WaitForReadyReplicas(Model);
        using var admin = new SchedulerAdminClient(scheduler.Address, LoopbackScheduler.AdminKey);
        var replica = Assert.Single(await admin.ListReplicasAsync(Model));
        var metrics = $"http://127.0.0.1:{healthPort}";
        var ofReplica = new[] { ("scheduler_replica_id", replica.ReplicaId), ("gen_ai_request_model", Model) };

        var idle = await PrometheusScrape.ReadAsync(_http, metrics);
        Assert.Equal(replica.KvCapacityTokens, idle.Sum("scheduler_engine_kv_tokens_capacity", ofReplica));
        Assert.True(idle.Has("scheduler_engine_running_sequences", ofReplica));
        Assert.Equal(0, idle.Sum("scheduler_engine_running_sequences", ofReplica));
        Assert.False(idle.Has("scheduler_tls_certificate_expiry_seconds"));

        // The node's resource, not the SDK's "unknown_service:dotnet".
        Assert.True(idle.Has("target_info", ("service_name", "scheduler-worker")), "target_info names the worker's service");

        // Token ids, so the second job finds the first one's leading blocks in the replica's prefix cache.
        var request = new SubmitJobRequest { Model = Model, MaxTokens = 150 };
        request.PromptTokenIds.AddRange(Enumerable.Range(1, 200));
        using var client = new SchedulerClient(scheduler.Address, TenantKey);
        var first = client.RunAsync(request, deadline: DateTime.UtcNow + Timeout);
        IReadOnlyList<PrometheusSample> running = [];
        await Polling.Until(
            async () => (running = await PrometheusScrape.ReadAsync(_http, metrics)).Sum("scheduler_engine_running_sequences", ofReplica) == 1,
            "the worker shows the job running", Timeout, TimeSpan.FromMilliseconds(20));
        Assert.Equal(200 + 150, running.Sum("scheduler_engine_kv_tokens_used", ofReplica));

        var results = new[] { await first, await client.RunAsync(request, deadline: DateTime.UtcNow + Timeout) };
        Assert.All(results, r => Assert.True(r.Succeeded, r.Error));
        Assert.True(results[1].Usage!.CachedPromptTokens > 0, "the second job found the first one's prompt in the prefix cache");
        var generated = results.Sum(r => r.Usage!.CompletionTokens);
        IReadOnlyList<PrometheusSample> after = [];
        await Polling.Until(
            async () => (after = await PrometheusScrape.ReadAsync(_http, metrics)).Sum("scheduler_engine_generated_tokens_total", ofReplica) == generated,
            $"the worker counts the {generated} tokens it generated", Timeout, TimeSpan.FromMilliseconds(50));
        Assert.Equal(results.Sum(r => r.Usage!.PromptTokens), after.Sum("scheduler_engine_prompt_tokens_total", ofReplica));
        Assert.Equal(results.Sum(r => r.Usage!.CachedPromptTokens), after.Sum("scheduler_engine_prefix_cache_hit_tokens_total", ofReplica));
        Assert.Equal(0, after.Sum("scheduler_engine_running_sequences", ofReplica));
        Assert.Equal(0, after.Sum("scheduler_engine_kv_tokens_used", ofReplica));

        // At least one step per token of the longer job; the simulated L4 takes milliseconds per step even sped up.
        Assert.True(after.Sum("scheduler_engine_step_duration_seconds_count", ofReplica) >= results.Max(r => r.Usage!.CompletionTokens));
        Assert.True(after.Sum("scheduler_engine_step_duration_seconds_sum", ofReplica) > 0);

        // A simulated engine counts no decode calls: no series says it made none.
        Assert.False(after.Has("scheduler_engine_decode_calls_total"));
    }

    [Fact]
    public async Task Metrics_TlsNodeCertificateRenewed_ExpiryFollowsTheCertificateServed()
    {
        var original = _certificates.Issue("original", DateTimeOffset.UtcNow.AddHours(5), "scheduler-worker");
        var renewed = _certificates.Issue("renewed", DateTimeOffset.UtcNow.AddHours(20), "scheduler-worker");
        var volume = new SecretVolume(Path.Combine(_certificates.Folder, "node-tls"), SecretVolume.TlsPair(original));
        var healthPort = FreePort.Next();

        // No scheduler listens: the node keeps trying to register, and serves its metrics meanwhile.
        await using var worker = WorkerProcess.Start("tls-metrics-node", $"http://127.0.0.1:{FreePort.Next()}", "instant", model: null,
            [$"--Worker:HealthPort={healthPort}", $"--Worker:Tls:CertificatePath={volume.PathOf("tls.crt")}", $"--Worker:Tls:KeyPath={volume.PathOf("tls.key")}", "--Worker:Tls:ReloadInterval=00:00:00.2"],
            environment: null, ("L4", 1, null));
        var metrics = $"http://127.0.0.1:{healthPort}";

        await Polling.Until(async () => await Expiry(metrics) == NotAfter(original.CertificatePath), "the gauge shows the certificate served", Timeout, TimeSpan.FromMilliseconds(100));

        volume.Update(SecretVolume.TlsPair(renewed));

        await Polling.Until(async () => await Expiry(metrics) == NotAfter(renewed.CertificatePath), "the gauge follows the renewed certificate", Timeout, TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public async Task Metrics_CollectorConfigured_AreExportedOverOtlpAsTheNamedService()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        var otel = new Dictionary<string, string>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.Endpoint,
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_SERVICE_NAME"] = "edge-worker",

            // Export every 200 ms rather than the default minute.
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "200",
        };
        var healthPort = FreePort.Next();

        // No scheduler listens: the node keeps trying to register, and exports its metrics meanwhile.
        await using var worker = WorkerProcess.Start("otlp-metrics-node", $"http://127.0.0.1:{FreePort.Next()}", "instant", Model,
            [$"--Worker:HealthPort={healthPort}"], otel, ("L4", 1, null));

        await Polling.Until(
            () => receiver.Metrics.Any(m => m.Name == WorkerTelemetry.KvTokensCapacity),
            "the collector receives the worker's metrics", Timeout, TimeSpan.FromMilliseconds(100));
        var received = receiver.Metrics.First(m => m.Name == WorkerTelemetry.KvTokensCapacity);
        Assert.Equal(("edge-worker", WorkerTelemetry.Name), (received.Service, received.Scope));
        var scraped = await PrometheusScrape.ReadAsync(_http, $"http://127.0.0.1:{healthPort}");
        Assert.True(scraped.Has("target_info", ("service_name", "edge-worker")), "target_info names the service OTEL_SERVICE_NAME gives");
    }

    [Fact]
    public async Task Metrics_TwoNodesInOneProcess_EachShowsOnlyItsOwnReplicas()
    {
        // As the embedded scheduler's fleet runs: nodes sharing a process share the meter's name.
        var ports = new[] { FreePort.Next(), FreePort.Next() };
        var nodes = new List<StartedWorker>();
        try
        {
            foreach (var (port, id) in ports.Zip(["node-a", "node-b"]))
            {
                var options = new WorkerNodeOptions { NodeId = id, SchedulerAddress = $"http://127.0.0.1:{FreePort.Next()}", SpeedUp = "instant", HealthPort = port };
                options.Accelerators.Add(new AcceleratorOptions { Product = "L4", Count = 2 });
                nodes.Add(await StartedWorker.StartAsync(options));
            }

            foreach (var (port, id) in ports.Zip(["node-a", "node-b"]))
            {
                var samples = await PrometheusScrape.ReadAsync(_http, $"http://127.0.0.1:{port}");
                var replicas = samples.Where(s => s.Name == "scheduler_engine_kv_tokens_capacity").Select(s => s.Labels["scheduler_replica_id"]).Order();
                Assert.Equal([$"{id}-l4-0/{Model}", $"{id}-l4-1/{Model}"], replicas);
            }
        }
        finally
        {
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }
        }
    }

    private async Task<double?> Expiry(string metrics)
    {
        try
        {
            var samples = await PrometheusScrape.ReadAsync(_http, metrics);
            return samples.SingleOrDefault(s => s.Name == "scheduler_tls_certificate_expiry_seconds")?.Value;
        }
        catch (HttpRequestException)
        {
            // Not listening yet.
            return null;
        }
    }

    private static double NotAfter(string certificatePath)
    {
        using var certificate = X509Certificate2.CreateFromPem(File.ReadAllText(certificatePath));
        return new DateTimeOffset(certificate.NotAfter).ToUnixTimeSeconds();
    }
}
