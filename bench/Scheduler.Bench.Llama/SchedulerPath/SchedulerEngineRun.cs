using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Scheduler.Bench.Harness;
using Scheduler.Bench.Llama.Workload;
using Scheduler.Client;
using Scheduler.Protos.V1;
using Scheduler.Silo.Hosting;
using Scheduler.Worker.Engines;
using Scheduler.Worker.Engines.Llama;
using Scheduler.Worker.Hosting;

namespace Scheduler.Bench.Llama.SchedulerPath;

/// <summary>
/// Runs the workload through the scheduler: a silo hosted in this process and a worker node running the bench node's
/// llama replica, which registers with it over loopback gRPC. Every job is one <c>StreamJob</c> call of the tenant,
/// all started at once; its times are taken as the client receives its token chunks.
/// </summary>
internal static class SchedulerEngineRun
{
    private const string TenantKey = "bench-llama-key";
    private const string AdminKey = "bench-llama-admin";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(120);

    public static async Task<RunResult> RunAsync(
        string name, string modelPath, LlamaBenchSettings settings, IReadOnlyList<BenchJob> jobs, Action<string> log, CancellationToken cancellationToken)
    {
        var ports = FreePorts.Take(2);
        string[] args =
        [
            "--Scheduler:GrpcPort=0", "--Scheduler:HttpPort=0",
            $"--Scheduler:SiloPort={ports[0]}", $"--Scheduler:GatewayPort={ports[1]}",
            $"--Scheduler:AdminApiKey={AdminKey}", $"--Scheduler:NodeToken={BenchNode.Token}",
            "--Scheduler:EmbeddedFleet:Enabled=false",
            $"--Scheduler:Models:0:Name={BenchNode.Model}", $"--Scheduler:Models:0:MaxContextTokens={BenchNode.ContextTokens}",
            $"--Scheduler:Models:0:MaxOutputTokens={JobMix.LongestOutput}",
            "--Scheduler:Tenants:0:Id=bench", $"--Scheduler:Tenants:0:ApiKey={TenantKey}", $"--Scheduler:Tenants:0:MaxQueuedJobs={jobs.Count * 2}",
            "--Logging:LogLevel:Default=Warning",
        ];
        await using var silo = SchedulerHost.Build(args, IgnoreSettingsFiles);
        await silo.StartAsync(cancellationToken);
        var address = silo.Services.GetRequiredService<ListeningAddresses>().Grpc;
        await using var node = WorkerNodeHost.Build(BenchNode.Options(modelPath, settings, address));
        await node.StartAsync(cancellationToken);
        try
        {
            await node.Services.GetRequiredService<WorkerNode>().Registered.WaitAsync(StartTimeout, cancellationToken);
            await WaitForReadyReplicaAsync(address, cancellationToken);
            log("scheduler: silo and node ready; streaming the jobs");

            using var client = new SchedulerClient(address, TenantKey);
            var started = Stopwatch.GetTimestamp();
            var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
            var timelines = jobs.Select(j => new JobTimeline(j, started)).ToList();
            await Task.WhenAll(timelines.Select(t => StreamAsync(client, t, cancellationToken)));
            var elapsed = Stopwatch.GetTimestamp() - started;
            var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;

            var engines = node.Services.GetRequiredService<ReplicaEngines>();
            var replicaId = node.Services.GetRequiredService<NodeInventory>().Replicas.Single().ReplicaId;
            var stats = engines.TryGet(replicaId, out var engine) ? ((LlamaEngine)engine).Stats : LlamaEngineStats.None;
            return RunResult.Of(name, timelines, elapsed, cpu, settings.Slots, stats);
        }
        finally
        {
            await node.StopAsync(CancellationToken.None);
            await silo.StopAsync(CancellationToken.None);
        }
    }

    private static async Task StreamAsync(SchedulerClient client, JobTimeline timeline, CancellationToken cancellationToken)
    {
        var request = new SubmitJobRequest
        {
            Model = BenchNode.Model,
            Prompt = JobMix.Prompt,
            MaxTokens = timeline.Job.MaxTokens,
            Temperature = JobMix.Temperature,
            Seed = timeline.Job.Seed,
        };
        try
        {
            await foreach (var e in client.StreamAsync(request, cancellationToken: cancellationToken))
            {
                switch (e.EventCase)
                {
                    case JobEvent.EventOneofCase.Tokens:
                        timeline.Record(e.Tokens.TokenCount, Stopwatch.GetTimestamp());
                        break;
                    case JobEvent.EventOneofCase.Completed:
                        timeline.Finish();
                        return;
                    case JobEvent.EventOneofCase.Failed or JobEvent.EventOneofCase.Cancelled or JobEvent.EventOneofCase.Expired:
                        timeline.Finish(e.EventCase.ToString());
                        return;
                }
            }

            timeline.Finish("stream ended without a terminal event");
        }
        catch (Grpc.Core.RpcException ex)
        {
            timeline.Finish(ex.Status.ToString());
        }
    }

    private static async Task WaitForReadyReplicaAsync(string address, CancellationToken cancellationToken)
    {
        using var admin = new SchedulerAdminClient(address, AdminKey);
        var deadline = DateTime.UtcNow + StartTimeout;
        while (!(await admin.ListReplicasAsync(BenchNode.Model, cancellationToken: cancellationToken)).Any(r => r.State == "ready"))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"No replica of {BenchNode.Model} became ready within {StartTimeout}.");
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    /// <summary>The silo's appsettings.json is copied next to the bench (content of a referenced project); its
    /// default models and tenants would merge by index with the arguments, so only the arguments count.</summary>
    private static void IgnoreSettingsFiles(IConfigurationBuilder configuration)
    {
        foreach (var source in configuration.Sources.OfType<FileConfigurationSource>().ToList())
        {
            configuration.Sources.Remove(source);
        }
    }
}
