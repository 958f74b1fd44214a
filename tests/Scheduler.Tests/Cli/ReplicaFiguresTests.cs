using System.Text.Json;
using System.Text.RegularExpressions;
using Scheduler.Client;
using Scheduler.Protos.V1;
using Scheduler.Tests.EndToEnd;

namespace Scheduler.Tests.Cli;

/// <summary>
/// <c>schedctl replicas</c> shows no engine figures for a replica whose node is gone — an outside probe read "24
/// sequences at 1.5k tok/s" on a SIGKILLed node for as long as the silos ran — and an idle replica's tokens per second
/// falls to 0. A silo on loopback and two worker processes, one killed mid-job.
/// </summary>
public sealed class ReplicaFiguresTests : IAsyncLifetime
{
    private const string Model = "figures-model";
    private const string TenantKey = "figures-tenant-key";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private LoopbackScheduler _scheduler = null!;
    private WorkerProcess _doomed = null!;
    private WorkerProcess _idle = null!;

    public async Task InitializeAsync()
    {
        _scheduler = await LoopbackScheduler.StartAsync(Model, "figures-tenant", TenantKey, $"--Scheduler:NodeToken={SchedulerCluster.NodeToken}");
        _doomed = WorkerProcess.Start("figures-doomed", _scheduler.Address, "1", Model, ("L4", 1, 4));
        _idle = WorkerProcess.Start("figures-idle", _scheduler.Address, "50", Model, ("L4", 1, 4));
        await _scheduler.WaitForReadyReplicas(Model, count: 2);
    }

    public async Task DisposeAsync()
    {
        await _doomed.DisposeAsync();
        await _idle.DisposeAsync();
        await _scheduler.DisposeAsync();
    }

    [Fact]
    public async Task Replicas_ALostNodeShowsNoEngineFigures_AnIdleOnesTokensPerSecondFallsToZero()
    {
        using var admin = new SchedulerAdminClient(_scheduler.Address, LoopbackScheduler.AdminKey);
        using var client = new SchedulerClient(_scheduler.Address, TenantKey);
        var doomed = Assert.Single(await admin.ListAcceleratorsAsync(), a => a.NodeId == "figures-doomed");
        var idle = Assert.Single(await admin.ListAcceleratorsAsync(), a => a.NodeId == "figures-idle");

        // A short job on the fast node, then long ones streaming on the slow node, which is killed.
        await admin.CordonAcceleratorAsync(doomed.AcceleratorId);
        var quick = await client.RunAsync(new SubmitJobRequest { Model = Model, Prompt = "quick", MaxTokens = 200 }, deadline: DateTime.UtcNow + Timeout);
        Assert.Equal(JobStatus.Completed, quick.Status);
        await admin.UncordonAcceleratorAsync(doomed.AcceleratorId);
        await admin.CordonAcceleratorAsync(idle.AcceleratorId);
        using var stop = new CancellationTokenSource();
        var streaming = Enumerable.Range(0, 3).Select(_ => client.RunAsync(
            new SubmitJobRequest { Model = Model, Prompt = "a long answer", MaxTokens = 2000 }, deadline: DateTime.UtcNow + Timeout, cancellationToken: stop.Token)).ToList();
        await Polling.Until(async () => (await admin.ListReplicasAsync(Model)).Any(r => r.NodeId == "figures-doomed" && r.EngineRunningSequences == 3 && r.MeasuredOutputTokensPerSecond > 0),
            "the doomed node's engine reports its sequences", Timeout, TimeSpan.FromMilliseconds(100));

        _doomed.Kill();
        await _doomed.WaitForExitAsync();
        await Polling.Until(async () => (await admin.GetAcceleratorAsync(doomed.AcceleratorId)).State == "lost",
            "the killed node is lost", Timeout, TimeSpan.FromMilliseconds(100));
        await stop.CancelAsync();

        // More than the engines' 5 s window after the quick job: the idle replica made nothing since.
        await Task.Delay(TimeSpan.FromSeconds(6));
        var replicas = await admin.ListReplicasAsync(Model);
        var lost = Assert.Single(replicas, r => r.NodeId == "figures-doomed");
        Assert.Equal((false, 0, 0L, 0.0), (lost.EngineReporting, lost.EngineRunningSequences, lost.EngineKvTokensUsed, lost.MeasuredOutputTokensPerSecond));
        var quiet = Assert.Single(replicas, r => r.NodeId == "figures-idle");
        Assert.True(quiet.EngineReporting);
        Assert.Equal(0.0, quiet.MeasuredOutputTokensPerSecond);

        // The table says so: "-" for the lost replica's engine columns.
        var (exit, stdout, stderr) = await Schedctl.Run("--address", _scheduler.Address, "--admin-key", LoopbackScheduler.AdminKey, "replicas", "-o", "json");
        Assert.True(exit == 0, stderr);
        using (var json = JsonDocument.Parse(stdout))
        {
            Assert.Contains(json.RootElement.EnumerateArray(), r => r.GetProperty("nodeId").GetString() == "figures-idle" && r.GetProperty("engineReporting").GetBoolean());
        }

        (exit, stdout, stderr) = await Schedctl.Run("--address", _scheduler.Address, "--admin-key", LoopbackScheduler.AdminKey, "replicas");
        Assert.True(exit == 0, stderr);
        var lines = stdout.Split('\n');
        var header = Regex.Split(lines[0].Trim(), @"\s{2,}");
        var row = Regex.Split(Assert.Single(lines, l => l.StartsWith(lost.ReplicaId, StringComparison.Ordinal)).Trim(), @"\s{2,}");
        Assert.Equal(header.Length, row.Length);
        foreach (var column in new[] { "ENGINE SEQS", "ENGINE KV", "TOK/S" })
        {
            Assert.Equal("-", row[Array.IndexOf(header, column)]);
        }

        foreach (var job in streaming)
        {
            await Assert.ThrowsAnyAsync<Exception>(() => job);
        }
    }
}
