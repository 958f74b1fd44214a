using System.Globalization;
using System.Text.RegularExpressions;
using Scheduler.Client;
using Scheduler.Protos.V1;
using Scheduler.Tests.EndToEnd;
using Scheduler.Tests.Faults;
using Scheduler.Worker.Hosting;
using Xunit.Abstractions;

namespace Scheduler.Tests.Cli;

/// <summary>
/// <c>schedctl submit</c> and <c>watch</c> outlive the silo serving their stream: given the cluster's addresses, a stream
/// that breaks after it began (the silo killed, or draining) goes on from the next token on the next address, and stdout
/// holds the job's text exactly once. Real silo processes on a Redis cluster (two silos, one worker node at the profiles'
/// speed, so a job runs for seconds); schedctl is its own process. And one that finds no silo any more gives up within
/// its bound, exit 2, saying how to follow the job.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class ResumingJobStreamTests(ITestOutputHelper output)
{
    private const int MaxTokens = 300;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(120);

    [Fact]
    public Task Submit_SiloServingTheStreamKilled_GoesOnFromTheNextAddress_EveryTokenOnce() => FaultCluster.RunAsync(output, async cluster =>
    {
        var (served, other) = (cluster.Silos[0], cluster.Silos[1]);
        await using var schedctl = SchedctlProcess.Start(
            "--address", $"{served.Address},{other.Address}", "--key", FaultCluster.Tenants[0].Key,
            "submit", "--model", FaultCluster.Model, "--prompt", "resume me", "--max-tokens", $"{MaxTokens}");
        await schedctl.WaitForStdoutAsync(Wait);

        served.Kill();

        var (exitCode, stdout, stderr) = await schedctl.WaitForExitAsync(Wait);
        output.WriteLine(stderr);
        Assert.Equal(0, exitCode);
        Assert.Contains($"; following it from token ", stderr, StringComparison.Ordinal);
        Assert.Contains($" on {other.Address}", stderr, StringComparison.Ordinal);
        await AssertTheJobsTextOnce(cluster, stdout, stderr);
    }, silos: 2, workers: 1, speedUp: "1");

    [Fact]
    public Task Watch_SiloServingTheStreamDrains_GoesOnFromTheNextAddress_EveryTokenOnce() => FaultCluster.RunAsync(output, async cluster =>
    {
        var (served, other) = (cluster.Silos[0], cluster.Silos[1]);
        using var tenant = cluster.Tenant(0, other);
        var job = await tenant.SubmitAsync(new SubmitJobRequest { Model = FaultCluster.Model, Prompt = "follow me", MaxTokens = MaxTokens });
        await using var schedctl = SchedctlProcess.Start(
            "--address", $"{served.Address},{other.Address}", "--key", FaultCluster.Tenants[0].Key, "watch", job.JobId);
        await schedctl.WaitForStdoutAsync(Wait);

        served.Terminate();

        var (exitCode, stdout, stderr) = await schedctl.WaitForExitAsync(Wait);
        output.WriteLine(stderr);
        Assert.Equal(0, exitCode);
        Assert.Contains($"schedctl: job {job.JobId}: ", stderr, StringComparison.Ordinal);
        Assert.Contains($" on {other.Address}", stderr, StringComparison.Ordinal);
        await AssertTheJobsTextOnce(cluster, stdout, stderr);
    }, silos: 2, workers: 1, speedUp: "1");

    [Fact]
    public async Task Watch_NoSiloAnswersAnyMore_GivesUpAfterItsTries_Exit2_SayingHowToFollowTheJob()
    {
        await using var scheduler = await LoopbackScheduler.StartAsync(FaultCluster.Model, "resume-tenant", "resume-tenant-key");
        await scheduler.StartNodeAsync(new WorkerNodeOptions { NodeId = "resume-node" });
        await scheduler.WaitForReadyReplicas(FaultCluster.Model);
        using var tenant = new SchedulerClient(scheduler.Address, "resume-tenant-key");
        var job = await tenant.SubmitAsync(new SubmitJobRequest { Model = FaultCluster.Model, Prompt = "outlive me", MaxTokens = 4000 });
        await using var schedctl = SchedctlProcess.Start("--address", scheduler.Address, "--key", "resume-tenant-key", "watch", job.JobId);
        await schedctl.WaitForStdoutAsync(Wait);

        await scheduler.DisposeAsync();

        var (exitCode, stdout, stderr) = await schedctl.WaitForExitAsync(Wait);
        Assert.True(exitCode == 2, stderr);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var error = Assert.Single(lines, l => l.StartsWith("error: ", StringComparison.Ordinal));
        Assert.Contains($"job {job.JobId} could not be followed: 20 tries in a row got no event", error, StringComparison.Ordinal);

        // It names where to go on from: past the tokens it printed.
        var hint = Regex.Match(error, $@"\. Job {job.JobId} runs on: 'schedctl watch {job.JobId} --from-token (?<from>[0-9]+)' with the same address and key follows it$");
        Assert.True(hint.Success, error);
        Assert.True(int.Parse(hint.Groups["from"].Value, CultureInfo.InvariantCulture) > 0 && stdout.Length > 0, error);
        Assert.Equal(20, lines.Count(l => l.StartsWith($"schedctl: job {job.JobId}: ", StringComparison.Ordinal)));

        // The simulated engine writes no line end, so the text was mid-line when the first note came: on a terminal,
        // which shows both streams, the note landed inside the text. It starts on a line of its own (the line break on
        // stderr: stdout holds the text and the line end that closes it, nothing else), and the notes after it follow
        // it with no blank line between.
        Assert.Equal(stdout.Length - 1, stdout.IndexOf('\n', StringComparison.Ordinal));
        Assert.StartsWith($"\nschedctl: job {job.JobId}: ", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("\n\n", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Submit_NoAddressAnswersAtTheStart_FailsAtOnce_Exit2_NamingEachAddress()
    {
        var (a, b) = ($"http://127.0.0.1:{FreePort.Next()}", $"http://127.0.0.1:{FreePort.Next()}");
        var started = DateTime.UtcNow;

        var (exitCode, stdout, stderr) = await Schedctl.Run("--address", $"{a},{b}", "submit", "--model", FaultCluster.Model, "--prompt", "nobody home");

        // One error line, and no round of resumption tries (20, about 17 s): there is no job to follow.
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(12), stderr);
        Assert.Equal((2, ""), (exitCode, stdout));
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"error: Unavailable: cannot reach the scheduler at any of its 2 addresses: {a}: ", line, StringComparison.Ordinal);
        Assert.Contains($"; {b}: ", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Watch_StreamRefusedAfterItsFirstEvent_KeepsTheRefusalsTrailers_NamingTheFlag()
    {
        // The failure was rewrapped without its trailers, so the BadRequest naming the field was lost and the error
        // named the request's field ("from_token: ...") where every other refusal names the flag the user typed.
        await using var server = await RefusingWatchServer.StartAsync();

        var (exitCode, stdout, stderr) = await Schedctl.Run("--address", server.Address, "watch", RefusingWatchServer.JobId);

        Assert.Equal((2, ""), (exitCode, stdout));
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(
            $"error: InvalidArgument: --from-token: {RefusingWatchServer.Problem}. Job {RefusingWatchServer.JobId} runs on: " +
            $"'schedctl watch {RefusingWatchServer.JobId} --from-token 0' with the same address and key follows it",
            line);
    }

    // The job's record, read once it ended, holds the text the stream printed: each token once, none missing.
    private static async Task AssertTheJobsTextOnce(FaultCluster cluster, string stdout, string stderr)
    {
        var summary = stderr.Split('\n').Single(l => l.StartsWith("job=", StringComparison.Ordinal));
        var jobId = summary["job=".Length..summary.IndexOf(' ', StringComparison.Ordinal)];
        var record = await FaultChecks.ReadRecord(cluster, 0, jobId);
        Assert.Equal(JobStatus.Completed, record.Status);
        Assert.Equal(MaxTokens, record.Usage.CompletionTokens);
        Assert.Equal(record.Output + (record.Output.EndsWith('\n') ? "" : "\n"), stdout);
        Assert.Contains($"completion_tokens={MaxTokens}", summary, StringComparison.Ordinal);
    }
}
