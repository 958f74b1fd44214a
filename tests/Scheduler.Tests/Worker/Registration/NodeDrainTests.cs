using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.DependencyInjection;
using Scheduler.Protos.V1;
using Scheduler.Tests.EndToEnd;
using Scheduler.Worker.Hosting;
using static Grpc.Health.V1.HealthCheckResponse.Types;

namespace Scheduler.Tests.Worker.Registration;

/// <summary>
/// A stopping worker node finishes its sequences before it ends: meanwhile it must read not ready (so Kubernetes takes
/// the pod out of its Service) and still alive (or the kubelet would restart it for finishing its work). A real node host
/// on loopback, its health asked over real gRPC and HTTP as the kubelet asks.
/// </summary>
public sealed class NodeDrainTests
{
    private const string Token = "drain-node-token";
    private const string Replica = "draining-h100-0/llama-3.1-8b";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Stopping_WhileASequenceRuns_ReadsNotReadyButAlive_UntilItEnds()
    {
        var healthPort = FreePort.Next();
        var options = new WorkerNodeOptions { NodeId = "draining", NodeToken = Token, HealthPort = healthPort, DrainTimeoutSeconds = 60 };
        options.Accelerators.Add(new AcceleratorOptions { Product = "H100" });
        await using var app = WorkerNodeHost.Build(options);
        await app.StartAsync();
        using var channel = GrpcChannel.ForAddress(app.Services.GetRequiredService<WorkerNode>().Address);
        var health = new Health.HealthClient(channel);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{healthPort}") };
        Assert.Equal((ServingStatus.Serving, ServingStatus.Serving), await Statuses(health));
        Assert.Equal((200, 200), await Probes(http));

        // A sequence that runs until something stops it, so the drain has something to wait for.
        using var cts = new CancellationTokenSource(Timeout);
        var auth = new Metadata { { "authorization", $"Bearer {Token}" } };
        using var call = new WorkerService.WorkerServiceClient(channel).Execute(auth, cancellationToken: cts.Token);
        var admit = new ExecuteCommand { Admit = new AdmitBatch { ReplicaId = Replica } };
        admit.Admit.Sequences.Add(new SequenceSpec { SequenceId = "long", PromptTokens = 10, MaxTokens = 400_000 });
        await call.RequestStream.WriteAsync(admit);
        Assert.True(await call.ResponseStream.MoveNext(cts.Token));

        using var stopBound = new CancellationTokenSource();
        var stopping = app.StopAsync(stopBound.Token);
        await Polling.Until(
            async () => (await Statuses(health)).Overall == ServingStatus.NotServing,
            "the draining node reads NOT_SERVING", Timeout, TimeSpan.FromMilliseconds(20));

        Assert.Equal((ServingStatus.NotServing, ServingStatus.Serving), await Statuses(health));
        Assert.Equal((503, 200), await Probes(http));
        Assert.False(stopping.IsCompleted, "the node stopped before its sequence ended");

        // The host's own bound on stopping ends the drain; what runs is handed back (the stream ends).
        await stopBound.CancelAsync();
        await stopping.WaitAsync(Timeout);
    }

    [Fact]
    public async Task Stopping_WhenTheSchedulersStreamClosesMeanwhile_SaysItsSequencesWereHandedBackNotFinished()
    {
        var options = new WorkerNodeOptions { NodeId = "draining-cut", NodeToken = Token, DrainTimeoutSeconds = 60 };
        options.Accelerators.Add(new AcceleratorOptions { Product = "H100" });
        using var logs = new CapturedLogs();
        await using var app = WorkerNodeHost.Build(options, logging => logging.AddProvider(logs));
        await app.StartAsync();
        using var channel = GrpcChannel.ForAddress(app.Services.GetRequiredService<WorkerNode>().Address);
        var health = new Health.HealthClient(channel);

        using var cts = new CancellationTokenSource(Timeout);
        var auth = new Metadata { { "authorization", $"Bearer {Token}" } };
        using var call = new WorkerService.WorkerServiceClient(channel).Execute(auth, cancellationToken: cts.Token);
        var admit = new ExecuteCommand { Admit = new AdmitBatch { ReplicaId = "draining-cut-h100-0/llama-3.1-8b" } };
        admit.Admit.Sequences.Add(new SequenceSpec { SequenceId = "long", PromptTokens = 10, MaxTokens = 400_000 });
        await call.RequestStream.WriteAsync(admit);
        Assert.True(await call.ResponseStream.MoveNext(cts.Token));

        var stopping = app.StopAsync();
        await Polling.Until(
            async () => (await Statuses(health)).Overall == ServingStatus.NotServing,
            "the draining node reads NOT_SERVING", Timeout, TimeSpan.FromMilliseconds(20));

        // The scheduler's end of the stream goes away (its silo died): the sequence is dropped here and resumes elsewhere.
        await cts.CancelAsync();
        await stopping.WaitAsync(Timeout);

        var summary = Assert.Single(logs.Messages, m => m.Contains("drained in", StringComparison.Ordinal));
        Assert.Contains("0 of its 1 sequences finished here, 1 were handed back when the scheduler's stream closed, 0 still running", summary, StringComparison.Ordinal);
    }

    private static async Task<(ServingStatus Overall, ServingStatus Liveness)> Statuses(Health.HealthClient health)
    {
        var deadline = DateTime.UtcNow + Timeout;
        var overall = await health.CheckAsync(new HealthCheckRequest(), deadline: deadline);
        var liveness = await health.CheckAsync(new HealthCheckRequest { Service = EngineHealthCheck.LivenessService }, deadline: deadline);
        return (overall.Status, liveness.Status);
    }

    private static async Task<(int Ready, int Live)> Probes(HttpClient http)
    {
        using var ready = await http.GetAsync(new Uri("/readyz", UriKind.Relative));
        using var live = await http.GetAsync(new Uri("/livez", UriKind.Relative));
        return ((int)ready.StatusCode, (int)live.StatusCode);
    }
}
