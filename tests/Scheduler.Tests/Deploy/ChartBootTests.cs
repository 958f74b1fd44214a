using System.Globalization;
using System.Text;
using Microsoft.Extensions.Configuration;
using Scheduler.Client;
using Scheduler.Protos.V1;
using Scheduler.Tests.EndToEnd;
using Scheduler.Tests.Faults;
using Xunit.Abstractions;

namespace Scheduler.Tests.Deploy;

/// <summary>
/// Boots a developer's deployment from exactly what the chart renders (<see cref="RenderedManifests"/>): two silos,
/// Redis and the worker pool's nodes, each started as its container would be (<c>dotnet</c> with the image's
/// entrypoint, the rendered environment, args and mounted files). Only what cannot hold outside a cluster is
/// substituted, and each substitution must replace a setting the manifests make: addresses become loopback, ports
/// free ports, the Redis and silo Services the processes started here, Kubernetes hosting is switched off, and the
/// silo Deployment runs two pods (the dev render asks for one). Everything else — cluster and service ids, clustering,
/// keys from the Secret, models, tenants, policies, the pool's engine, accelerators and prices — is the render's.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class ChartBootTests(ITestOutputHelper output)
{
    private const string SiloName = "scheduler-silo";
    private const string WorkerPool = "scheduler-worker-sim";
    private const int Silos = 2;
    private const int JobsPerSilo = 3;
    private const int MaxTokens = 8;
    // Generous: on a 2-core machine under a load of 40 the second silo took 70 s to join, the first 30 s to start.
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(180);

    [Fact]
    public async Task RenderedDevDeployment_TwoSilosRedisAndWorkerBootFromIt_CompleteJobsThroughBothSilos()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var manifests = await RenderedManifests.LoadAsync();
        output.WriteLine($"[{clock.Elapsed:mm\\:ss}] manifests: {manifests.Source}");
        var siloDeployment = manifests.Get("Deployment", SiloName);
        var workerSet = manifests.Get("StatefulSet", WorkerPool);
        var workerPods = int.Parse(RenderedManifests.Scalar(workerSet, "spec", "replicas")!, CultureInfo.InvariantCulture);
        output.WriteLine($"silo replicas rendered: {RenderedManifests.Scalar(siloDeployment, "spec", "replicas")}, booted: {Silos}; worker pods: {workerPods}");

        await using var processes = new BootedProcesses(output);
        var redis = await RedisServer.StartAsync();
        processes.Redis = redis;

        // The silos: the image's files with the ConfigMap mounted over its appsettings.json.
        var siloImage = ImageFolder.Create("Scheduler.Silo", RenderedContainer.Read(manifests, siloDeployment, "silo", $"{SiloName}-boot-0", "127.0.0.1").Files);
        processes.Folders.Add(siloImage);
        var silos = new List<(string Grpc, int HttpPort, RenderedContainer Container)>();
        for (var i = 0; i < Silos; i++)
        {
            var container = RenderedContainer.Read(manifests, siloDeployment, "silo", $"{SiloName}-boot-{i}", "127.0.0.1");
            Assert.Empty(container.Command);
            Assert.Equal(ServiceAddress(manifests, "scheduler-redis", "redis"), container.Get("Scheduler__Redis"));
            var (grpc, http) = (FreePort.Next(), FreePort.Next());
            var environment = Substitute(container, Configuration(container, container.Files[ImageFolder.AppFolder + "appsettings.json"]),
                ("Scheduler:Redis", redis.Endpoint),
                ("Scheduler:AdminKeyFile", ImageFolder.Local(siloImage, container.Get("Scheduler__AdminKeyFile")!)),
                ("Scheduler:BindAddress", "127.0.0.1"),
                ("Scheduler:GrpcPort", Text(grpc)),
                ("Scheduler:HttpPort", Text(http)),
                ("Scheduler:OpenAiPort", Text(FreePort.Next())),
                ("Scheduler:SiloPort", Text(FreePort.Next())),
                ("Scheduler:GatewayPort", Text(FreePort.Next())),
                ("Scheduler:Kubernetes:Enabled", "false"));
            Assert.Equal("127.0.0.1", environment["Scheduler__AdvertisedAddress"]); // the pod IP, through $(POD_IP)
            var silo = ChildProcess.Start(
                "dotnet", [Path.Combine(siloImage, "Scheduler.Silo.dll"), .. container.Args], keepOutput: true, environment, workingDirectory: siloImage, exactEnvironment: true);
            processes.Add($"silo {i}", silo);
            silos.Add(($"http://127.0.0.1:{grpc}", http, container));
            if (i == 0)
            {
                // The first silo forms the cluster alone; the others join it while the workers start.
                try
                {
                    await WaitServing(silos[0].Grpc, silo, clock);
                }
                catch
                {
                    processes.DumpLogs();
                    throw;
                }
            }
        }

        // The worker pool: the StatefulSet's pods, named <set>-<ordinal> (their node ids), dialling the silo Service.
        var workerBinaries = Path.GetDirectoryName(RepoPaths.WorkerAssembly)!;
        var workerContainers = new List<RenderedContainer>();
        for (var ordinal = 0; ordinal < workerPods; ordinal++)
        {
            var container = RenderedContainer.Read(manifests, workerSet, "worker", $"{WorkerPool}-{ordinal}", "127.0.0.1");
            Assert.Empty(container.Command);
            Assert.Empty(container.Files);
            Assert.Equal("http://" + ServiceAddress(manifests, SiloName, "grpc"), container.Get("Worker__SchedulerAddress"));
            var environment = Substitute(container, Configuration(container),
                ("Worker:Port", Text(FreePort.Next())),
                ("Worker:SchedulerAddress", string.Join(',', silos.Select(s => s.Grpc))));
            var worker = ChildProcess.Start(
                "dotnet", [RepoPaths.WorkerAssembly, .. container.Args], keepOutput: true, environment, workingDirectory: workerBinaries, exactEnvironment: true);
            processes.Add($"worker {ordinal}", worker);
            workerContainers.Add(container);
        }

        try
        {
            for (var i = 1; i < Silos; i++)
            {
                await WaitServing(silos[i].Grpc, processes.Process($"silo {i}"), clock);
            }

            await CheckClusterAsync(silos, workerContainers, manifests, clock);
        }
        catch
        {
            processes.DumpLogs();
            throw;
        }
    }

    private async Task CheckClusterAsync(
        List<(string Grpc, int HttpPort, RenderedContainer Container)> silos, List<RenderedContainer> workers, RenderedManifests manifests, System.Diagnostics.Stopwatch clock)
    {
        var silo = silos[0].Container;
        var model = workers[0].Get("Worker__Accelerators__0__Model")!;
        var product = workers[0].Get("Worker__Accelerators__0__Product")!;
        var perPod = int.Parse(workers[0].Get("Worker__Accelerators__0__Count")!, CultureInfo.InvariantCulture);
        var nodes = workers.Select(w => w.Get("Worker__NodeId")!).Order().ToList();
        Assert.Equal(workers.Select((_, i) => $"{WorkerPool}-{i}"), nodes); // the pod names, through $(POD_NAME)

        // Both silos are members of one Orleans cluster, as each of them sees it.
        foreach (var (_, httpPort, _) in silos)
        {
            await Polling.Until(async () => await ClusterSize.ReadAsync($"http://127.0.0.1:{httpPort}") == Silos, $"the silo on :{httpPort} counts {Silos} active silos", StartTimeout, TimeSpan.FromMilliseconds(500));
        }

        output.WriteLine($"[{clock.Elapsed:mm\\:ss}] both silos count {Silos} active silos");

        // Every accelerator of every worker pod is a ready replica of the pool's model and product.
        // The admin key is the file the Secret mounts, as the silos read it.
        var adminKey = silo.Files[silo.Get("Scheduler__AdminKeyFile")!].Trim();
        using (var admin = new SchedulerAdminClient(silos[1].Grpc, adminKey))
        {
            await Polling.Until(
                async () => (await admin.ListReplicasAsync(model)).Count(r => r.State == "ready") == workers.Count * perPod,
                $"{workers.Count * perPod} ready replicas of {model}",
                StartTimeout,
                TimeSpan.FromMilliseconds(250));
            var replicas = await admin.ListReplicasAsync(model);
            Assert.All(replicas, r => Assert.Equal(product, r.Product));
            Assert.Equal(nodes, replicas.Select(r => r.NodeId).Distinct().Order());
            output.WriteLine($"[{clock.Elapsed:mm\\:ss}] {replicas.Count} ready {product} replicas of {model} on {string.Join(", ", nodes)}");
        }

        // Jobs through each silo, with the tenant key the Secret holds.
        var tenantKey = silo.Get("Scheduler__Tenants__0__ApiKey")!;
        var secretName = manifests.All("Secret").Select(s => RenderedManifests.Scalar(s, "metadata", "name")!).Single();
        Assert.Contains(tenantKey, manifests.AllValues("Secret", secretName).Values);
        foreach (var (grpc, _, _) in silos)
        {
            using var client = new SchedulerClient(grpc, tenantKey);
            var results = await Task.WhenAll(Enumerable.Range(0, JobsPerSilo).Select(i => client.RunAsync(
                new SubmitJobRequest { Model = model, Prompt = $"boot job {i} via {grpc}", MaxTokens = MaxTokens },
                deadline: DateTime.UtcNow.AddSeconds(60))));
            foreach (var result in results)
            {
                Assert.True(result.Succeeded, $"job {result.JobId} via {grpc}: {result.Status} {result.Error}");
                Assert.Equal(MaxTokens, result.TokenCount);
                Assert.Contains(result.Placement!.NodeId, nodes);
            }

            output.WriteLine($"[{clock.Elapsed:mm\\:ss}] {JobsPerSilo} jobs completed through {grpc} on {string.Join(", ", results.Select(r => r.Placement!.NodeId + "/" + r.Placement.AcceleratorId))}");
        }
    }

    private async Task WaitServing(string address, ChildProcess process, System.Diagnostics.Stopwatch clock)
    {
        await Polling.Until(() => Serving(address, process), $"the silo at {address} serves", StartTimeout, TimeSpan.FromMilliseconds(250));
        output.WriteLine($"[{clock.Elapsed:mm\\:ss}] the silo at {address} serves");
    }

    private static async Task<bool> Serving(string address, ChildProcess process)
    {
        if (process.HasExited)
        {
            throw new InvalidOperationException($"the silo at {address} exited with code {process.ExitCode}:\n{string.Join('\n', process.Output.TakeLast(40))}");
        }

        using var channel = Grpc.Net.Client.GrpcChannel.ForAddress(address);
        try
        {
            var reply = await new Grpc.Health.V1.Health.HealthClient(channel).CheckAsync(new Grpc.Health.V1.HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(2));
            return reply.Status == Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving;
        }
        catch (Grpc.Core.RpcException)
        {
            return false;
        }
    }

    /// <summary>"host:port" of a rendered Service's named port: what a pod reaches it by.</summary>
    private static string ServiceAddress(RenderedManifests manifests, string name, string portName)
    {
        var ports = (YamlDotNet.RepresentationModel.YamlSequenceNode)RenderedManifests.Child(manifests.Get("Service", name), "spec", "ports")!;
        var port = ports.Children.Single(p => RenderedManifests.Scalar(p, "name") == portName);
        return $"{name}:{RenderedManifests.Scalar(port, "port")}";
    }

    /// <summary>The container's environment with <paramref name="substitutions"/> (configuration keys) applied as
    /// environment variables, which win over appsettings.json. Each must replace a setting the render makes, so a
    /// renamed setting fails here instead of being quietly supplied by the test. The child gets only this environment
    /// plus what runs dotnet (PATH, HOME, DOTNET_ROOT), as a container gets only its own.</summary>
    private static Dictionary<string, string> Substitute(RenderedContainer container, IConfiguration rendered, params (string Key, string Value)[] substitutions)
    {
        var environment = container.Environment.ToDictionary(e => e.Key, e => e.Value);
        foreach (var (key, value) in substitutions)
        {
            Assert.True(rendered[key] is not null, $"the rendered configuration does not set {key}: the test would add a setting, not substitute one");
            environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        foreach (var name in new[] { "PATH", "HOME", "DOTNET_ROOT" })
        {
            if (Environment.GetEnvironmentVariable(name) is { } value)
            {
                environment.TryAdd(name, value);
            }
        }

        return environment;
    }

    /// <summary>The settings a container's appsettings.json and environment make, as .NET configuration reads them.</summary>
    private static IConfiguration Configuration(RenderedContainer container, string? appsettings = null)
    {
        var builder = new ConfigurationBuilder();
        if (appsettings is not null)
        {
            builder.AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(appsettings)));
        }

        return builder.AddInMemoryCollection(container.Environment.Select(e => new KeyValuePair<string, string?>(e.Key.Replace("__", ":", StringComparison.Ordinal), e.Value))).Build();
    }

    private static string Text(int port) => port.ToString(CultureInfo.InvariantCulture);
}
