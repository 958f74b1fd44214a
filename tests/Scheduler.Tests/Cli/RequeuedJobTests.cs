using System.Text.Json;
using Scheduler.Client;
using Scheduler.Protos.V1;
using Scheduler.Tests.EndToEnd;

namespace Scheduler.Tests.Cli;

/// <summary>
/// A job whose worker node died under it goes back to the front of its queue. <c>schedctl get</c>, <c>jobs</c> and
/// <c>explain</c> showed it queued on the lost node's replica with hand-backs "-" (an outside probe read it as waiting
/// for a node that was gone); now it has no placement while it waits, and says it was re-queued, from where and why.
/// A silo on loopback and worker processes: one killed with SIGKILL while it runs the job, then another that finishes it.
/// </summary>
public sealed class RequeuedJobTests : IAsyncLifetime
{
    private const string Model = "requeue-model";
    private const string TenantKey = "requeue-tenant-key";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private LoopbackScheduler _scheduler = null!;
    private WorkerProcess _lost = null!;
    private WorkerProcess? _next;

    public async Task InitializeAsync()
    {
        _scheduler = await LoopbackScheduler.StartAsync(Model, "requeue-tenant", TenantKey, $"--Scheduler:NodeToken={SchedulerCluster.NodeToken}");

        // At real speed, so the job is still running when its node is killed.
        _lost = WorkerProcess.Start("requeue-lost", _scheduler.Address, "1", Model, ("L4", 1, 4));
        await _scheduler.WaitForReadyReplicas(Model);
    }

    public async Task DisposeAsync()
    {
        await _lost.DisposeAsync();
        if (_next is not null)
        {
            await _next.DisposeAsync();
        }

        await _scheduler.DisposeAsync();
    }

    [Fact]
    public async Task GetJobsExplain_AJobWhoseNodeWasLost_ShowNoReplicaWhileItWaits_AndThatItWasRequeuedFromThere()
    {
        using var tenant = new SchedulerClient(_scheduler.Address, TenantKey);
        var jobId = (await tenant.SubmitAsync(new SubmitJobRequest { Model = Model, Prompt = "outlive your node", MaxTokens = 2000 })).JobId;
        var running = await Until(tenant, jobId, JobStatus.Running);
        Assert.Equal("requeue-lost", running.Placement.NodeId);

        _lost.Kill();
        await _lost.WaitForExitAsync();
        var queued = await Until(tenant, jobId, JobStatus.Queued);

        // No replica is left to take it: it waits, on no replica.
        Assert.Null(queued.Placement);
        Assert.Equal((1, 0), (queued.Requeues, queued.HandBacks));
        var requeue = $"from replica {running.Placement.ReplicaId} (node requeue-lost): its node was lost";
        Assert.StartsWith(requeue, queued.LastRequeue, StringComparison.Ordinal);

        var (exit, stdout, stderr) = await Run("--key", TenantKey, "get", jobId);
        Assert.True(exit == 0, stderr);
        var fields = stdout.Split('\n').Select(l => l.TrimEnd()).ToList();
        Assert.Contains(fields, l => l.StartsWith("status", StringComparison.Ordinal) && l.EndsWith(" queued", StringComparison.Ordinal));
        Assert.Contains(fields, l => l.StartsWith("placement", StringComparison.Ordinal) && l.EndsWith(" replica=- accelerator=-", StringComparison.Ordinal));
        Assert.Contains(fields, l => l.StartsWith("re-queued", StringComparison.Ordinal) && l.Contains($" 1, the last {requeue}", StringComparison.Ordinal));

        (exit, stdout, stderr) = await Run("jobs", "-o", "json");
        Assert.True(exit == 0, stderr);
        using (var page = JsonDocument.Parse(stdout))
        {
            var listed = Assert.Single(page.RootElement.GetProperty("jobs").EnumerateArray());
            Assert.Equal(JsonValueKind.Null, listed.GetProperty("placement").ValueKind);
            Assert.Equal(1, listed.GetProperty("requeues").GetInt32());
        }

        (exit, stdout, stderr) = await Run("explain", jobId, "-o", "json");
        Assert.True(exit == 0, stderr);
        using (var explained = JsonDocument.Parse(stdout))
        {
            Assert.Equal(JsonValueKind.Null, explained.RootElement.GetProperty("job").GetProperty("placement").ValueKind);
            Assert.Contains(explained.RootElement.GetProperty("events").EnumerateArray(),
                e => e.GetProperty("kind").GetString() == "handed_back" && e.GetProperty("detail").GetString()!.Contains("its node was lost", StringComparison.Ordinal));
        }

        // Another node takes it and finishes it; its record says where it ran last, and that it was re-queued once.
        _next = WorkerProcess.Start("requeue-next", _scheduler.Address, "instant", Model, ("L4", 1, 4));
        var completed = await Until(tenant, jobId, JobStatus.Completed);
        Assert.Equal("requeue-next", completed.Placement.NodeId);
        Assert.Equal(1, completed.Requeues);
        Assert.StartsWith(requeue, completed.LastRequeue, StringComparison.Ordinal);
    }

    private static async Task<Job> Until(SchedulerClient tenant, string jobId, JobStatus status)
    {
        Job? job = null;
        await Polling.Until(async () => (job = await tenant.GetAsync(jobId)).Status == status,
            $"job {jobId} reads {status}", Timeout, TimeSpan.FromMilliseconds(50));
        return job!;
    }

    private Task<(int ExitCode, string Stdout, string Stderr)> Run(params string[] arguments) =>
        Schedctl.Run(["--address", _scheduler.Address, "--admin-key", LoopbackScheduler.AdminKey, .. arguments]);
}
