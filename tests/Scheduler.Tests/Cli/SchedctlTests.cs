using System.Text.Json;
using Scheduler.Policies.Placement;
using Scheduler.Protos.V1;
using Scheduler.Tests.EndToEnd;

namespace Scheduler.Tests.Cli;

/// <summary>schedctl against the loopback cluster (a silo and two worker node processes): the live view and the
/// machine-readable listings, parsed as a script would.</summary>
[Collection(SchedulerClusterCollection.Name)]
public sealed class SchedctlTests(SchedulerCluster cluster)
{
    [Fact]
    public async Task Top_OnceAsJson_ShowsQueuesReplicasAcceleratorsAndAttainment()
    {
        // A job that finishes in the last minute counts towards the model's TTFT attainment.
        using var client = cluster.Tenant(0);
        var result = await client.RunAsync(new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "top, once", MaxTokens = 4 }, deadline: DateTime.UtcNow.AddSeconds(60));
        Assert.Equal(JobStatus.Completed, result.Status);

        var (exit, stdout, stderr) = await Run("top", "--once", "-o", "json");
        Assert.True(exit == 0, stderr);
        var frames = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        using var frame = JsonDocument.Parse(Assert.Single(frames));
        var root = frame.RootElement;
        Assert.True(root.GetProperty("at").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-1));
        var model = root.GetProperty("models").EnumerateArray().Single(m => m.GetProperty("name").GetString() == SchedulerCluster.Model);
        Assert.True(model.GetProperty("ttftJobsLastMinute").GetInt32() >= 1);
        Assert.InRange(model.GetProperty("ttftMetLastMinute").GetInt32(), 0, model.GetProperty("ttftJobsLastMinute").GetInt32());
        Assert.Equal(JsonValueKind.Object, model.GetProperty("queuedByTenant").ValueKind);
        var replicas = root.GetProperty("replicas").EnumerateArray().Where(r => r.GetProperty("model").GetString() == SchedulerCluster.Model).ToList();
        Assert.True(replicas.Count >= 4);
        Assert.All(replicas, r => Assert.True(r.GetProperty("maxSequences").GetInt32() > 0));
        Assert.All(replicas, r => Assert.True(r.TryGetProperty("measuredOutputTokensPerSecond", out _)));
        Assert.Contains(root.GetProperty("accelerators").EnumerateArray(), a => a.GetProperty("state").GetString() == "ready");
        Assert.True(root.GetProperty("summary").GetProperty("nodes").GetInt32() >= 2);
        // Only the busy tenants (the job above has ended): listing them all asked every tenant's grain each frame.
        Assert.All(root.GetProperty("tenants").EnumerateArray(), t => Assert.True(Count(t, "queuedJobs") + Count(t, "runningJobs") > 0, t.ToString()));
        Assert.True(root.GetProperty("summary").GetProperty("tenants").GetInt32() >= SchedulerCluster.Tenants.Length);

        static int Count(JsonElement tenant, string field) => tenant.TryGetProperty(field, out var value) ? value.GetInt32() : 0;
    }

    [Fact]
    public async Task Summary_ShowsThePoliciesAndThePriceOfWaiting_AsTextAndJson()
    {
        var (exit, stdout, stderr) = await Run("summary");
        Assert.True(exit == 0, stderr);
        Assert.Contains("cost-aware", stdout, StringComparison.Ordinal);
        Assert.Matches(@"price of waiting:\s+\$0\.001 a second", stdout);

        (exit, stdout, stderr) = await Run("summary", "-o", "json");
        Assert.True(exit == 0, stderr);
        using var summary = JsonDocument.Parse(stdout);
        Assert.Equal(PlacementSettings.DefaultWaitCostUsdPerSecond, summary.RootElement.GetProperty("waitCostUsdPerSecond").GetDouble());
    }

    [Fact]
    public async Task Top_NotATerminal_PrintsTheRequestedFramesAsText()
    {
        var (exit, stdout, stderr) = await Run("top", "-n", "2", "--interval", "0.2");
        Assert.True(exit == 0, stderr);
        Assert.DoesNotContain("\u001b[", stdout);
        Assert.Equal(["frame 1 of 2, every 0.2s", "frame 2 of 2, every 0.2s"],
            stdout.Split('\n').Where(line => line.StartsWith("schedctl top", StringComparison.Ordinal)).Select(line => line[(line.IndexOf("frame", StringComparison.Ordinal))..]));
        Assert.Contains("TTFT MET 1M", stdout);
        Assert.Contains("OCCUPANCY", stdout);
        Assert.Contains("accelerators ", stdout);
        Assert.Contains(SchedulerCluster.Model, stdout);

        // One frame says nothing of refreshing or quitting: it printed "every 2s (q or Ctrl+C quits)" and exited.
        (exit, stdout, stderr) = await Run("top", "--once");
        Assert.True(exit == 0, stderr);
        var header = Assert.Single(stdout.Split('\n'), line => line.StartsWith("schedctl top", StringComparison.Ordinal));
        Assert.DoesNotContain("every", header);
        Assert.DoesNotContain("quits", header);
    }

    [Fact]
    public async Task TopHelp_Iterations_SaysZeroRunsUntilQuit()
    {
        // -n 0 is accepted and refreshes until q or Ctrl+C; the help said "Print this many frames", so an operator who
        // asked for none got a live view that never ended.
        var (exit, stdout, stderr) = await Run("top", "--help");
        Assert.True(exit == 0, stderr);
        var line = Assert.Single(stdout.Split('\n'), l => l.TrimStart().StartsWith("-n, --iterations", StringComparison.Ordinal));
        Assert.EndsWith("Print this many frames, then exit (0, the default: until q or Ctrl+C)", line.TrimEnd(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Listings_JsonAndWide_ParseAndAddColumns()
    {
        var (exit, stdout, stderr) = await Run("replicas", "-o", "json");
        Assert.True(exit == 0, stderr);
        using (var replicas = JsonDocument.Parse(stdout))
        {
            Assert.True(replicas.RootElement.GetArrayLength() >= 4);
            Assert.All(replicas.RootElement.EnumerateArray(), r => Assert.False(string.IsNullOrEmpty(r.GetProperty("replicaId").GetString())));
        }

        (exit, stdout, stderr) = await Run("tenants", "-o", "json");
        Assert.True(exit == 0, stderr);
        using (var tenants = JsonDocument.Parse(stdout))
        {
            var a = tenants.RootElement.EnumerateArray().Single(t => t.GetProperty("tenantId").GetString() == SchedulerCluster.Tenants[0].Id);
            Assert.Equal(SchedulerCluster.Tenants[0].Weight, a.GetProperty("weight").GetDouble());
            Assert.True(a.GetProperty("usage").TryGetProperty("jobsCompleted", out _));
        }

        (exit, stdout, stderr) = await Run("summary", "-o", "json");
        Assert.True(exit == 0, stderr);
        using (var summary = JsonDocument.Parse(stdout))
        {
            Assert.True(summary.RootElement.GetProperty("replicas").GetInt32() >= 4);
        }

        var narrow = await Run("replicas");
        var wide = await Run("replicas", "-o", "wide");
        Assert.DoesNotContain("SEQS/DECODE", narrow.Stdout.Split('\n')[0]);
        Assert.Contains("SEQS/DECODE", wide.Stdout.Split('\n')[0]);
        Assert.Contains("NODE", wide.Stdout.Split('\n')[0]);

        var bad = await Run("models", "-o", "yaml");
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("yaml", bad.Stderr + bad.Stdout);
    }

    [Fact]
    public async Task Capacity_Wide_AddsTheFiguresTheTablesLeaveOut()
    {
        // -o wide printed the same two tables as the default.
        var narrow = await Run("capacity");
        var wide = await Run("capacity", "-o", "wide");
        Assert.True(narrow.ExitCode == 0 && wide.ExitCode == 0, narrow.Stderr + wide.Stderr);

        var (demand, pools) = Headers(narrow.Stdout);
        Assert.Equal(["MODEL", "WINDOW S", "PROMPT TOK/S", "PEAK PROMPT TOK/S", "OUTPUT TOK/S", "QUEUED PROMPT", "QUEUED OUTPUT", "TTFT ATTAINMENT"], demand);
        Assert.Equal(["MODEL", "POOL", "PRODUCT", "REPLICAS", "WANTED", "MAX", "BUSY", "TARGET UTIL", "REASON"], pools);
        (demand, pools) = Headers(wide.Stdout);
        Assert.Equal(
            ["MODEL", "WINDOW S", "PROMPT TOK/S", "PEAK PROMPT TOK/S", "PEAK LOOKBACK S", "OUTPUT TOK/S", "QUEUED PROMPT", "QUEUED OUTPUT", "TTFT ATTAINMENT"], demand);
        Assert.Equal(["MODEL", "POOL", "PRODUCT", "REPLICAS", "WANTED", "MAX", "BUSY", "TARGET UTIL", "COLD START S", "METERED", "REASON"], pools);
        Assert.Contains(wide.Stdout.Split('\n'), r => r.StartsWith(SchedulerCluster.Model + " ", StringComparison.Ordinal));

        // The header cells of the demand table (the first line) and of the pools table (the first after the blank line).
        static (string[] Demand, string[] Pools) Headers(string stdout)
        {
            var lines = stdout.Split('\n');
            var blank = Array.FindIndex(lines, l => l.Trim().Length == 0);
            return (Cells(lines[0]), Cells(lines[blank + 1]));
        }

        static string[] Cells(string header) => header.Split("  ", StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    [Fact]
    public async Task KeysAndAudit_ThroughSchedctl_SecretShownOnceAndActionsListed()
    {
        var tenant = SchedulerCluster.Tenants[2].Id;
        var (exit, stdout, stderr) = await Run("keys", "create", tenant, "-o", "json");
        Assert.True(exit == 0, stderr);
        string keyId, secret;
        using (var created = JsonDocument.Parse(stdout))
        {
            keyId = created.RootElement.GetProperty("key").GetProperty("keyId").GetString()!;
            secret = created.RootElement.GetProperty("secret").GetString()!;
        }

        using (var client = cluster.ClientWithKey(secret))
        {
            var job = await client.RunAsync(new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "new key", MaxTokens = 2 }, deadline: DateTime.UtcNow.AddSeconds(60));
            Assert.Equal(JobStatus.Completed, job.Status);
        }

        (exit, stdout, stderr) = await Run("keys", "list", tenant, "-o", "json");
        Assert.True(exit == 0, stderr);
        Assert.DoesNotContain(secret, stdout);
        using (var listed = JsonDocument.Parse(stdout))
        {
            var key = listed.RootElement.EnumerateArray().Single(k => k.GetProperty("keyId").GetString() == keyId);
            Assert.StartsWith(key.GetProperty("prefix").GetString()!, secret);
        }

        // The revoked key as the listing shows it, its last use included (it read "-").
        (exit, stdout, stderr) = await Run("keys", "revoke", tenant, keyId, "-o", "json");
        Assert.True(exit == 0, stderr);
        using (var revoked = JsonDocument.Parse(stdout))
        {
            Assert.True(revoked.RootElement.GetProperty("lastUsedAt").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-5));
        }

        (exit, stdout, stderr) = await Run("audit", "--action", "apikey.", "--since", "10m", "-o", "json");
        Assert.True(exit == 0, stderr);
        using var events = JsonDocument.Parse(stdout);
        var ours = events.RootElement.EnumerateArray().Where(e => e.GetProperty("target").GetString()!.StartsWith(tenant, StringComparison.Ordinal)).ToList();
        Assert.Equal(["apikey.revoke", "apikey.create"], ours.Take(2).Select(e => e.GetProperty("action").GetString()));
        Assert.All(ours, e => Assert.StartsWith("admin:", e.GetProperty("actor").GetString()));

        var table = await Run("audit", "--since", "10m", "-o", "wide");
        Assert.Contains("PEER", table.Stdout.Split('\n')[0]);
        var badSince = await Run("audit", "--since", "yesterday-ish");
        Assert.NotEqual(0, badSince.ExitCode);
        Assert.Contains("--since", badSince.Stderr);
    }

    [Fact]
    public async Task Jobs_MatchBehindMoreNewerJobsThanAServerPageExamines_IsListed()
    {
        // One completed job, then more newer ones (cancelled while queued on the model with no replica) than a server
        // page examines: the first server page for "completed" comes back empty, with a token.
        using var client = cluster.ClientWithKey(await cluster.NewTenantKey("cli-deep", new TenantQuotas { MaxQueuedJobs = 3_000 }));
        var done = await client.RunAsync(new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "deep", MaxTokens = 1 }, deadline: DateTime.UtcNow.AddSeconds(60));
        Assert.Equal(JobStatus.Completed, done.Status);
        await Parallel.ForAsync(0, 2_100, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (_, cancellationToken) =>
        {
            var parked = await client.SubmitAsync(new SubmitJobRequest { Model = SchedulerCluster.ParkedModel, Prompt = "p", MaxTokens = 1 }, cancellationToken: cancellationToken);
            await client.CancelAsync(parked.JobId, cancellationToken: cancellationToken);
        });

        var tenant = (await client.GetAsync(done.JobId)).TenantId;
        var (exit, stdout, stderr) = await Run("jobs", "--tenant", tenant, "--status", "completed", "--limit", "5", "-o", "json");

        Assert.True(exit == 0, stderr);
        using var page = JsonDocument.Parse(stdout);
        var listed = page.RootElement.GetProperty("jobs").EnumerateArray().Select(j => j.GetProperty("jobId").GetString()).ToList();
        Assert.Equal([done.JobId], listed);
    }

    [Fact]
    public async Task JobsAndExplain_AsJson_FindTheJobAndItsAdmission()
    {
        using var client = cluster.Tenant(0);
        var job = await client.RunAsync(new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "find me", MaxTokens = 3 }, deadline: DateTime.UtcNow.AddSeconds(60));
        Assert.Equal(JobStatus.Completed, job.Status);

        var (exit, stdout, stderr) = await Run("jobs", "--tenant", SchedulerCluster.Tenants[0].Id, "--status", "completed", "--since", "10m", "-o", "json");
        Assert.True(exit == 0, stderr);
        using (var page = JsonDocument.Parse(stdout))
        {
            var listed = page.RootElement.GetProperty("jobs").EnumerateArray().ToList();
            Assert.Contains(listed, j => j.GetProperty("jobId").GetString() == job.JobId);
            Assert.All(listed, j => Assert.Equal("JOB_STATUS_COMPLETED", j.GetProperty("status").GetString()));
            Assert.Equal(JsonValueKind.String, page.RootElement.GetProperty("nextPageToken").ValueKind);
        }

        (exit, stdout, stderr) = await Run("explain", job.JobId, "-o", "json");
        Assert.True(exit == 0, stderr);
        using (var explained = JsonDocument.Parse(stdout))
        {
            Assert.Equal(job.JobId, explained.RootElement.GetProperty("job").GetProperty("jobId").GetString());
            var kinds = explained.RootElement.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("kind").GetString()).ToList();
            Assert.Equal("queued", kinds[0]);
            Assert.Contains("admitted", kinds);
        }

        // The table shows what the job generated of its most, not its budget alone.
        var table = await Run("jobs", "--tenant", SchedulerCluster.Tenants[0].Id, "--status", "completed", "--since", "10m", "--limit", "500");
        Assert.True(table.ExitCode == 0, table.Stderr);
        var row = Assert.Single(table.Stdout.Split('\n'), l => l.StartsWith(job.JobId, StringComparison.Ordinal));
        // The simulated engine takes the scheduler's count: an estimate, marked (PromptTokenLabelTests).
        Assert.Contains($" ~{job.Usage!.PromptTokens} ", row);
        Assert.Contains(" 3/3 ", row);

        var wide = await Run("jobs", "--since", "10m", "-o", "wide");
        Assert.True(wide.ExitCode == 0, wide.Stderr);
        Assert.Contains("FINISH", wide.Stdout.Split('\n')[0]);
        var badUntil = await Run("jobs", "--until", "next-tuesday");
        Assert.NotEqual(0, badUntil.ExitCode);
        Assert.Contains("--until", badUntil.Stderr);
    }

    [Theory]
    [InlineData("--weight", "tenant", "put", "cli-weight-zero", "--weight", "0")]
    [InlineData("--weight: must be a number from 0.001 to 1000", "tenant", "put", "cli-weight-big", "--weight", "1e9")]
    [InlineData("--limit", "jobs", "--limit", "0")]
    [InlineData("--limit", "jobs", "--limit", "501")]
    [InlineData("Cannot parse argument 'abc' for option '--limit'", "jobs", "--limit", "abc")] // aborted with a stack trace
    [InlineData("Cannot parse argument 'lots' for option '--weight'", "tenant", "put", "cli-weight-text", "--weight", "lots")]
    [InlineData("--interval: must be between 0.1 and 3600 seconds", "top", "--interval", "0")]
    [InlineData("Cannot parse argument 'x' for option '--interval'", "top", "--interval", "x")]
    [InlineData("--iterations: must be 0 or more", "top", "-n", "-1")]
    [InlineData("--since '1000000d': an age reaches back at most ", "jobs", "--since", "1000000d")] // aborted, exit code 134
    [InlineData("--since '1e12s': an age reaches back at most ", "audit", "--since", "1e12s")]
    [InlineData("--until 'NaNs': expected an age", "jobs", "--until", "NaNs")]
    [InlineData("Give --prompt, or --message", "submit", "--model", SchedulerCluster.Model)]
    [InlineData("not both", "submit", "--model", SchedulerCluster.Model, "--prompt", "x", "--message", "user=y")]
    public async Task ArgumentsOutOfRange_AreRefusedBeforeAnyCall_NamingWhatIsWrong(string named, params string[] arguments)
    {
        var (exit, _, stderr) = await Run(arguments);

        Assert.Equal(1, exit);
        Assert.Contains(named, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UsageErrors_AreErrorLines_ThenWhereTheUsageIs_NotTheWholeHelpPage()
    {
        var (exit, stdout, stderr) = await Run("tenants", "set", "t");

        Assert.Equal(1, exit);
        Assert.Equal(
            ["error: Unrecognized command or argument 'set'.", "error: Unrecognized command or argument 't'.", "Usage: schedctl tenants --help"],
            stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.Empty(stdout);
    }

    [Theory]
    [InlineData("schedctl", "nosuch")]
    [InlineData("schedctl tenant", "tenant", "nosuch")]
    public async Task UsageErrors_AnUnknownCommand_IsNamedAlone_NotAlsoAsNoCommandGiven(string usage, params string[] args)
    {
        var (exit, stdout, stderr) = await Run(args);

        Assert.Equal(1, exit);
        Assert.Equal(
            ["error: Unrecognized command or argument 'nosuch'.", $"Usage: {usage} --help"],
            stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.Empty(stdout);
    }

    [Fact]
    public async Task UsageErrors_NoCommandGiven_SaysSo()
    {
        var (exit, _, stderr) = await Run("tenant");

        Assert.Equal(1, exit);
        Assert.Equal(
            ["error: Required command was not provided.", "Usage: schedctl tenant --help"],
            stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    [Fact]
    public async Task SchedulerUnreachable_TheErrorNamesTheAddressDialled()
    {
        var closed = $"http://127.0.0.1:{FreePort.Next()}";

        var (exit, _, stderr) = await Schedctl.Run("summary", "--address", closed);

        Assert.Equal(2, exit);
        Assert.StartsWith($"error: Unavailable: cannot reach the scheduler at {closed}: ", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CordonNode_CordonsEveryAcceleratorOfTheNode_UncordonNodeRestoresThem_AnUnknownNodeIsAnError()
    {
        var (exit, stdout, stderr) = await Run("cordon-node", "e2e-node-2", "-o", "json");
        try
        {
            Assert.True(exit == 0, stderr);
            using var cordoned = JsonDocument.Parse(stdout);
            var accelerators = cordoned.RootElement.EnumerateArray().ToList();
            Assert.Equal(2, accelerators.Count);
            Assert.All(accelerators, a => Assert.Equal("e2e-node-2", a.GetProperty("nodeId").GetString()));
            Assert.All(accelerators, a => Assert.True(a.GetProperty("state").GetString() is "cordoned" or "draining"));
        }
        finally
        {
            (exit, stdout, stderr) = await Run("uncordon-node", "e2e-node-2", "-o", "json");
        }

        Assert.True(exit == 0, stderr);
        using (var restored = JsonDocument.Parse(stdout))
        {
            Assert.All(restored.RootElement.EnumerateArray(), a => Assert.Equal("ready", a.GetProperty("state").GetString()));
        }

        (exit, _, stderr) = await Run("cordon-node", "no-such-node");
        Assert.Equal(2, exit);
        Assert.Equal("error: NotFound: the scheduler knows no accelerator of node 'no-such-node' (schedctl accelerators lists the nodes)", stderr.Trim());
    }

    [Theory]
    [InlineData("cordon-node", "no-such-node")] // schedctl finds the node missing itself: it exited 1
    [InlineData("uncordon-node", "no-such-node")]
    [InlineData("cordon", "no-such-accelerator")] // the scheduler refuses the name
    [InlineData("uncordon", "no-such-accelerator")]
    [InlineData("forget-node", "no-such-node")]
    public async Task UnknownName_ExitsTwoWithNotFound_WhoeverFindsItMissing(params string[] arguments)
    {
        var (exit, stdout, stderr) = await Run(arguments);

        Assert.Equal((2, ""), (exit, stdout));
        Assert.StartsWith("error: NotFound: ", stderr, StringComparison.Ordinal);
        Assert.Contains($"'{arguments[^1]}'", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("error: InvalidArgument: --from-token: must not be negative", "watch", "job-none", "--from-token", "-1")]
    [InlineData("error: InvalidArgument: --since: must not be after --until", "jobs", "--since", "1h", "--until", "2h")]
    [InlineData("error: InvalidArgument: --model: 'no-model' is not a model this scheduler serves", "jobs", "--model", "no-model")]
    [InlineData("error: InvalidArgument: --max-tokens: must be between 1 and ", "submit", "--model", SchedulerCluster.Model, "--prompt", "x", "--max-tokens", "0")]
    [InlineData("error: InvalidArgument: --deadline-ms: must be between 0 (none) and ", "submit", "--model", SchedulerCluster.Model, "--prompt", "x", "--deadline-ms", "-5")]
    [InlineData("error: InvalidArgument: --top-p: must be greater than 0 and at most 1", "submit", "--model", SchedulerCluster.Model, "--prompt", "x", "--top-p", "5")]
    [InlineData("error: InvalidArgument: --message: messages[1].role: must be one of ", "submit", "--model", SchedulerCluster.Model, "--message", "user=x", "--message", "robot=y")]
    [InlineData("error: InvalidArgument: --api-key: must be at least 8 characters", "tenant", "put", "cli-short-key", "--api-key", "short")]
    [InlineData("error: InvalidArgument: --tokens-per-minute: must be at most ", "tenant", "put", "cli-huge-quota", "--tokens-per-minute", "99999999999")]
    [InlineData("error: InvalidArgument: --limit: must be between 0 and 2000", "audit", "--limit", "5000")]
    [InlineData("error: InvalidArgument: <job-id>: is required", "get", "")] // an argument, as its usage shows it
    [InlineData("error: InvalidArgument: <accelerator-id>: is required", "cordon", "")]
    [InlineData("error: InvalidArgument: <key-id>: is required", "keys", "revoke", "some-tenant", "")]
    [InlineData("error: AlreadyExists: --api-key: is another tenant's key", "tenant", "put", "cli-key-taken", "--api-key", SchedulerCluster.CappedKey)] // not only INVALID_ARGUMENT names a field
    [InlineData("error: PermissionDenied: --tenant: a tenant lists only its own jobs; leave --tenant empty", "jobs", "--mine", "--tenant", "someone")]
    public async Task FieldRefusedByTheScheduler_IsToldAsTheFlagTyped_NotTheRequestField(string error, params string[] arguments)
    {
        var (exit, stdout, stderr) = await Run(["--key", SchedulerCluster.Tenants[0].Key, .. arguments]);

        Assert.Equal((2, ""), (exit, stdout));
        Assert.StartsWith(error, stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("_", stderr, StringComparison.Ordinal); // no request field (max_tokens, submitted_until) left
    }

    [Fact]
    public async Task GetWatchCancel_AnotherTenantsJobWithTheTenantKey_SayWhichKeyLookedAndWhatFindsIt()
    {
        // An operator finds a job with the admin key (schedctl jobs), then reads it with get, which uses the tenant key:
        // another tenant's job is NOT_FOUND like an expired one, and the error said only how long records are kept.
        using var owner = cluster.Tenant(1);
        var result = await owner.RunAsync(new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "whose job", MaxTokens = 4 }, deadline: DateTime.UtcNow.AddSeconds(60));
        Assert.Equal(JobStatus.Completed, result.Status);

        foreach (var command in new[] { "get", "watch", "cancel" })
        {
            var (exit, stdout, stderr) = await Run("--key", SchedulerCluster.Tenants[0].Key, command, result.JobId);
            Assert.Equal(2, exit);
            Assert.Equal("", stdout);
            Assert.StartsWith($"error: NotFound: job '{result.JobId}' not found: ", stderr, StringComparison.Ordinal);
            Assert.EndsWith(
                ". get, watch and cancel look with the tenant key (--key or $SCHEDULER_API_KEY), which finds that tenant's jobs only; " +
                "'schedctl explain JOB' finds any tenant's with the admin key",
                stderr.Trim(), StringComparison.Ordinal);
        }

        // What the hint names finds it.
        var (found, explained, error) = await Run("explain", result.JobId, "-o", "json");
        Assert.True(found == 0, error);
        using var explanation = JsonDocument.Parse(explained);
        Assert.Equal(SchedulerCluster.Tenants[1].Id, explanation.RootElement.GetProperty("job").GetProperty("tenantId").GetString());
    }

    [Fact]
    public async Task TenantPut_SettingsNotGiven_AreKept_GivenOnesReplaced()
    {
        var (exit, _, stderr) = await Run("tenant", "put", "cli-quotas", "--weight", "2", "--max-queued", "7", "--requests-per-minute", "60", "--tokens-per-minute", "9000");
        Assert.True(exit == 0, stderr);

        // A weight change alone lifted every limit set before (an outside probe).
        (exit, _, stderr) = await Run("tenant", "put", "cli-quotas", "--weight", "3");
        Assert.True(exit == 0, stderr);
        (exit, _, stderr) = await Run("tenant", "put", "cli-quotas", "--requests-per-minute", "0");
        Assert.True(exit == 0, stderr);

        using var admin = cluster.Admin();
        var tenant = await admin.GetTenantAsync("cli-quotas");
        Assert.Equal((3.0, 7, 0, 9000L), (tenant.Weight, tenant.Quotas.MaxQueuedJobs, tenant.Quotas.RequestsPerMinute, tenant.Quotas.TokensPerMinute));
    }

    [Fact]
    public async Task Tenants_OneTenantAPage_FollowsEveryPage_AndStartsFromAPageToken()
    {
        using var admin = cluster.Admin();
        var everyTenant = (await admin.ListTenantsAsync(new ListTenantsRequest())).Tenants.Select(t => t.TenantId).ToList();
        Assert.True(everyTenant.Count >= 2, "the cluster seeds two tenants or more");

        var (exit, stdout, stderr) = await Run("tenants", "--page-size", "1", "-o", "json");
        Assert.True(exit == 0, stderr);
        Assert.Equal(everyTenant, TenantIds(stdout));

        var first = await admin.ListTenantsAsync(new ListTenantsRequest { PageSize = 1 });
        (exit, stdout, stderr) = await Run("tenants", "--page-size", "1", "--page-token", first.NextPageToken, "-o", "json");
        Assert.True(exit == 0, stderr);
        Assert.Equal(everyTenant.Skip(1), TenantIds(stdout));

        (exit, _, stderr) = await Run("tenants", "--page-size", "0");
        Assert.NotEqual(0, exit);
        Assert.Contains("--page-size", stderr, StringComparison.Ordinal);
    }

    private static List<string> TenantIds(string json)
    {
        using var listed = JsonDocument.Parse(json);
        return [.. listed.RootElement.EnumerateArray().Select(t => t.GetProperty("tenantId").GetString() ?? "")];
    }

    private Task<(int ExitCode, string Stdout, string Stderr)> Run(params string[] arguments) =>
        Schedctl.Run(["--address", cluster.Address, "--admin-key", SchedulerCluster.AdminKey, .. arguments]);
}
