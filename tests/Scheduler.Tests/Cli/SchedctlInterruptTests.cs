using Scheduler.Client;
using Scheduler.Protos.V1;
using Scheduler.Tests.EndToEnd;
using Scheduler.Worker.Hosting;

namespace Scheduler.Tests.Cli;

/// <summary>
/// Interrupting schedctl (SIGTERM, or Ctrl+C) stops schedctl, not the job: it exits 130 — its documented code — after
/// saying, on a line of its own, how to follow the job and how to stop it. It used to die at once with the signal's 143,
/// mid-line and silent, because System.CommandLine handled no signal. A silo in this process, one worker node at the
/// profiles' speed (a job of 2,000 tokens runs for seconds); schedctl is its own process.
/// </summary>
public sealed class SchedctlInterruptTests
{
    private const string Model = "llama-3.1-8b";
    private const string TenantKey = "interrupt-tenant-key";

    [Fact]
    public async Task Submit_Terminated_Exits130_SayingHowToFollowTheJob_WhichRunsOn()
    {
        await using var scheduler = await LoopbackScheduler.StartAsync(Model, "interrupt-tenant", TenantKey);
        await scheduler.StartNodeAsync(new WorkerNodeOptions { NodeId = "interrupt-node" });
        await scheduler.WaitForReadyReplicas(Model);
        await using var schedctl = SchedctlProcess.Start(
            "--address", scheduler.Address, "--key", TenantKey, "submit", "--model", Model, "--prompt", "stop me", "--max-tokens", "2000");
        await schedctl.WaitForStdoutAsync(TimeSpan.FromSeconds(60));

        schedctl.Terminate();

        var (exitCode, _, stderr) = await schedctl.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.True(exitCode == 130, $"exit {exitCode}: {stderr}");
        var hint = Assert.Single(stderr.Split('\n'), l => l.StartsWith("schedctl: interrupted. Job ", StringComparison.Ordinal));
        var jobId = hint.Split(' ')[3];
        Assert.EndsWith($"' with the same address and key follows it; 'schedctl cancel {jobId}' stops it", hint, StringComparison.Ordinal);
        Assert.Contains($"'schedctl watch {jobId} --from-token ", hint, StringComparison.Ordinal);

        // The job was not cancelled by schedctl's end.
        using var tenant = new SchedulerClient(scheduler.Address, TenantKey);
        var job = await tenant.GetAsync(jobId);
        Assert.Contains(job.Status, new[] { JobStatus.Running, JobStatus.Completed });
    }
}
