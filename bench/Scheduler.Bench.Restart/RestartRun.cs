using System.Diagnostics;
using System.Text.RegularExpressions;
using Scheduler.Bench.Harness;
using Scheduler.Protos.V1;

namespace Scheduler.Bench.Restart;

/// <summary>
/// One run: a fresh redis-server and silo, the backlog queued behind the cordoned fleet, the silo killed and started
/// again; what clients and the fleet's nodes saw while it rebuilt, every job checked queued once, then the fleet
/// uncordoned and every job checked completed once. The run is bounded by <see cref="RestartBenchSettings.RunSeconds"/>.
/// </summary>
internal static partial class RestartRun
{
    /// <summary>The standalone's simulated fleet: 2 H100, 4 L4 and 1 LPU (src/Scheduler.Standalone/appsettings.json).</summary>
    private const int FleetAccelerators = 7;

    public static async Task RunAsync(RestartBenchSettings settings, int run)
    {
        void Note(string line) => Console.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] run {run}: {line} (load {MachineLoad.Read()})");

        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(settings.RunSeconds));
        var cancellationToken = bound.Token;

        var startedAt = DateTime.UtcNow;
        await using var scheduler = StandaloneOnRedis.Start(settings);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        await using (var firstCpu = new CpuSamples(scheduler.SiloPid))
        {
            var firstReady = await WaitReadyAsync(scheduler, http, startedAt, cancellationToken);
            Note($"first start on an empty Redis: /readyz answered {firstReady:F1} s after the process started, "
                + $"{firstCpu.At(DateTime.UtcNow):F1} s of the silo's CPU");
        }

        using var backlog = new Backlog(scheduler, settings);
        await backlog.PrepareAsync(FleetAccelerators, cancellationToken);
        Note($"silo {scheduler.SiloPid} on Redis, {FleetAccelerators} accelerators cordoned, {settings.Tenants} tenants made");

        var submitting = Stopwatch.StartNew();
        var latencies = (await backlog.SubmitAllAsync(cancellationToken)).Order().ToList();
        Note($"{settings.Jobs:N0} jobs submitted over {settings.Tenants} tenants in {submitting.Elapsed.TotalSeconds:F1} s "
            + $"({settings.Jobs / submitting.Elapsed.TotalSeconds:N0}/s, {settings.Concurrency} in flight), p50 {latencies[latencies.Count / 2]:F1} ms, "
            + $"p99 {latencies[(int)(latencies.Count * 0.99)]:F1} ms");
        var before = await backlog.TenantTotalsAsync(cancellationToken);
        Note($"before the kill: tenants count {before.Queued:N0} queued, {before.Running} running");

        var killedPid = scheduler.SiloPid;
        await scheduler.KillSiloAsync();
        var restartedAt = scheduler.StartSilo();
        Note($"silo {killedPid} killed (SIGKILL); silo {scheduler.SiloPid} started on the same Redis and ports");

        await using var cpu = new CpuSamples(scheduler.SiloPid);
        var readyz = WaitReadyAsync(scheduler, http, restartedAt, cancellationToken);
        var rebuild = await WatchRebuildAsync(scheduler, backlog, restartedAt, cancellationToken);
        var ready = await readyz;

        var queued = await backlog.CheckListingAsync(JobStatus.Queued, cancellationToken);
        Note($"ListJobs (queued, pages of 500): {queued.Listed:N0} listed, {queued.Once:N0} of the {backlog.Count:N0} jobs once, "
            + $"{queued.Twice} more than once, {queued.Missing} missing, {queued.Foreign} foreign, in {queued.Took.TotalSeconds:F1} s");

        // Read after the listing, by when the fleet has logged its registration too.
        double CpuAt(double seconds) => cpu.At(restartedAt.AddSeconds(seconds));
        var active = Seconds(scheduler.LoggedAt("Placement of " + StandaloneOnRedis.Model + " active"), restartedAt);
        var rebuilt = Seconds(scheduler.LoggedAt("Placement of " + StandaloneOnRedis.Model + " rebuilt"), restartedAt);
        var fleetBack = Seconds(scheduler.LoggedAt("Embedded simulated fleet ready"), restartedAt);
        Note($"after the start: /readyz answered at {ready:F1} s (silo CPU {CpuAt(ready):F1} s); the placement activated at {active:F1} s "
            + $"and logged its rebuild at {rebuilt:F1} s ({rebuilt - active:F1} s, silo CPU {CpuAt(rebuilt) - CpuAt(active):F2} s meanwhile); "
            + $"the fleet's 3 nodes re-registered by {fleetBack:F1} s; ListModels counted every job queued at {rebuild.AllQueued:F1} s "
            + $"(silo CPU {CpuAt(rebuild.AllQueued):F1} s since its start)");
        foreach (var line in scheduler.Lines(" registered with "))
        {
            Note("  silo: " + line);
        }

        foreach (var calls in rebuild.Calls)
        {
            Note("  " + calls.Describe(rebuild.AllQueued));
        }

        var found = await backlog.CheckEveryJobAsync(JobStatus.Queued, cancellationToken);
        Note($"GetJob of every job: {found.WrongStatus} not queued, in {found.Took.TotalSeconds:F1} s");
        var after = await backlog.TenantTotalsAsync(cancellationToken);
        Note($"tenants count {after.Queued:N0} queued, {after.Running} running, {after.Submitted:N0} submitted");
        // A tenant's counts are written behind its submissions; after a crash each tenant recounts once, with a warning.
        var warnings = scheduler.Warnings();
        Note($"the restarted silo warned {warnings.Count} times, {warnings.Count(w => w.Contains("were in no count", StringComparison.Ordinal))} of them a tenant recounting");
        foreach (var warning in warnings.Where(w => !w.Contains("were in no count", StringComparison.Ordinal)))
        {
            Note("  silo: " + Shorten(warning));
        }

        var draining = Stopwatch.StartNew();
        await backlog.UncordonAllAsync(cancellationToken);
        var drained = await WaitForAllCompletedAsync(backlog, cancellationToken);
        Note($"uncordoned: every job completed {draining.Elapsed.TotalSeconds:F1} s later (tenants: {drained.Completed:N0} completed, "
            + $"{drained.Submitted:N0} submitted, {drained.CompletionTokens:N0} completion tokens for {backlog.Count:N0} × {settings.MaxTokens})");
        var completed = await backlog.CheckListingAsync(JobStatus.Completed, cancellationToken);
        var done = await backlog.CheckEveryJobAsync(JobStatus.Completed, cancellationToken);
        Note($"ListJobs (completed): {completed.Once:N0} once, {completed.Twice} more than once, {completed.Missing} missing; "
            + $"GetJob: {done.WrongStatus} not completed, {done.WrongTokens} with another token count than max_tokens");
        if (settings.LogDirectory.Length > 0)
        {
            scheduler.SaveLogs(settings.LogDirectory);
        }

        Note($"RESULT lost: {done.WrongStatus} not completed, {completed.Missing} not listed completed; duplicated: {completed.Twice} listed twice, "
            + $"{done.WrongTokens} with another token count, {drained.Completed - backlog.Count} completions and "
            + $"{drained.CompletionTokens - ((long)backlog.Count * settings.MaxTokens)} tokens beyond the jobs'");
    }

    /// <summary>Polls /readyz every 50 ms until it answers 200; returns when it did, in seconds after <paramref name="origin"/>.</summary>
    private static async Task<double> WaitReadyAsync(StandaloneOnRedis scheduler, HttpClient http, DateTime origin, CancellationToken cancellationToken)
    {
        while (true)
        {
            scheduler.ThrowIfSiloExited();
            try
            {
                if ((await http.GetAsync(new Uri($"http://127.0.0.1:{scheduler.HttpPort}/readyz"), cancellationToken)).IsSuccessStatusCode)
                {
                    return (DateTime.UtcNow - origin).TotalSeconds;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(50, cancellationToken);
        }
    }

    /// <summary>From the restart until the placement counts every job queued: every 250 ms a GetJob, a new SubmitJob
    /// and a ListModels, each timed, each in its own loop.</summary>
    private static async Task<(double AllQueued, TimedCalls[] Calls)> WatchRebuildAsync(
        StandaloneOnRedis scheduler, Backlog backlog, DateTime restartedAt, CancellationToken cancellationToken)
    {
        var getJob = new TimedCalls("GetJob", restartedAt);
        var submit = new TimedCalls("SubmitJob", restartedAt);
        var listModels = new TimedCalls("ListModels", restartedAt);
        var ids = backlog.JobIds();
        var expected = backlog.Count;
        var allQueued = double.NaN;

        // Each kind in its own loop, so a call that waits does not hold back the others.
        async Task Repeat(TimedCalls calls, Func<DateTime, Task> call)
        {
            while (double.IsNaN(allQueued))
            {
                scheduler.ThrowIfSiloExited();
                await Task.WhenAll(calls.TimeAsync(call), Task.Delay(250, cancellationToken));
            }
        }

        var n = 0;
        await Task.WhenAll(
            Repeat(getJob, deadline => backlog.GetAsync(ids[Interlocked.Increment(ref n) % ids.Count], deadline, cancellationToken)),
            Repeat(submit, deadline => backlog.SubmitAsync(0, deadline, cancellationToken)),
            Repeat(listModels, async deadline =>
            {
                var model = (await backlog.Admin.ListModelsAsync(deadline, cancellationToken)).Single(m => m.Name == StandaloneOnRedis.Model);
                if (model.QueuedJobs >= expected && double.IsNaN(allQueued))
                {
                    allQueued = (DateTime.UtcNow - restartedAt).TotalSeconds;
                }
            }));
        return (allQueued, [getJob, submit, listModels]);
    }

    private static async Task<TenantTotals> WaitForAllCompletedAsync(Backlog backlog, CancellationToken cancellationToken)
    {
        while (true)
        {
            var totals = await backlog.TenantTotalsAsync(cancellationToken);
            if (totals.Completed >= backlog.Count && totals.Queued == 0 && totals.Running == 0)
            {
                return totals;
            }

            await Task.Delay(500, cancellationToken);
        }
    }

    /// <summary>An Orleans stall warning as its time, the grain type (or system target) and the turn's length; any
    /// other line cut at 300 characters.</summary>
    private static string Shorten(string line)
    {
        var stall = StallWarning().Match(line);
        var turn = line.Contains("OnActivateAsync", StringComparison.Ordinal) ? "its activation's turn" : "a turn";
        return stall.Success ? $"{line[..12]} {turn} of {stall.Groups["target"].Value} took {stall.Groups["elapsed"].Value}" : line[..Math.Min(line.Length, 300)];
    }

    [GeneratedRegex(@"\[(?:Activation|SystemTarget): [^/]*/(?<target>[^/@\]]+).*took elapsed time (?<elapsed>[0-9:.]+)")]
    private static partial Regex StallWarning();

    private static double Seconds(DateTime? at, DateTime origin) => at is { } time ? (time - origin).TotalSeconds : double.NaN;
}
