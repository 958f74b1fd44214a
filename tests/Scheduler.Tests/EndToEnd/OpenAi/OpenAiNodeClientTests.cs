using System.Diagnostics;
using System.Text.Json;
using Scheduler.Protos.V1;

namespace Scheduler.Tests.EndToEnd.OpenAi;

/// <summary>
/// The OpenAI-compatible API driven by the official <c>openai</c> npm package: tests/openai-node/check.mjs runs under
/// <c>node</c> against the live silo (streaming and not, errors included) and prints what it saw; this checks the job ids
/// it got over gRPC. The package is installed on first use (<c>npm ci</c> in tests/openai-node from its lock file, as
/// .ci/run also does); without node, npm or the registry the test fails: it never passes without having run the script.
/// </summary>
[Collection(SchedulerClusterCollection.Name)]
public sealed class OpenAiNodeClientTests(SchedulerCluster cluster)
{
    private static readonly string ScriptFolder = Path.Combine(RepoPaths.Root, "tests", "openai-node");

    // Both tests need the package; the first to ask installs it, once per test run.
    private static readonly Lazy<Task> Installed = new(InstallPackage);

    [Fact]
    public async Task OpenAiNpmPackage_CompletionsStreamedAndNot_ModelsAndErrors()
    {
        var seen = await RunScript(chat: false);

        Assert.Contains(SchedulerCluster.Model, seen.GetProperty("models").EnumerateArray().Select(m => m.GetString()));
        await AssertOutput(seen.GetProperty("completion"), 7);
        await AssertOutput(seen.GetProperty("streamed"), 20);
        Assert.True(seen.GetProperty("streamed").GetProperty("chunks").GetInt32() >= 3);
        Assert.Equal([401, 404, 400, 400], seen.GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("status").GetInt32()));
    }

    [Fact]
    public async Task OpenAiNpmPackage_ChatCompletionsStreamedAndNot()
    {
        var seen = await RunScript(chat: true);

        await AssertOutput(seen.GetProperty("chat"), 6);
        await AssertOutput(seen.GetProperty("chatStreamed"), 12);
    }

    private async Task<JsonElement> RunScript(bool chat)
    {
        await Installed.Value;
        var start = new ProcessStartInfo("node", "check.mjs")
        {
            WorkingDirectory = ScriptFolder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["OPENAI_BASE_URL"] = cluster.OpenAiAddress + "/v1";
        start.Environment["OPENAI_API_KEY"] = SchedulerCluster.Tenants[2].Key;
        start.Environment["MODEL"] = SchedulerCluster.Model;
        start.Environment["CHAT"] = chat ? "1" : "0";

        // A missing node throws here (Win32Exception): the test fails, it does not skip.
        using var node = Process.Start(start)!;
        var output = node.StandardOutput.ReadToEndAsync();
        var errors = node.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        try
        {
            await node.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            node.Kill(entireProcessTree: true);
            throw new TimeoutException("check.mjs did not finish in 120 s: " + await errors);
        }

        Assert.True(node.ExitCode == 0, $"check.mjs exited {node.ExitCode}: {await errors}");
        return JsonDocument.Parse(await output).RootElement;
    }

    private static async Task InstallPackage()
    {
        if (File.Exists(Path.Combine(ScriptFolder, "node_modules", "openai", "package.json")))
        {
            return;
        }

        var start = new ProcessStartInfo("npm", "ci --no-audit --no-fund")
        {
            WorkingDirectory = ScriptFolder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };

        // A missing npm throws here (Win32Exception): the test fails, it does not skip.
        using var npm = Process.Start(start)!;
        var output = npm.StandardOutput.ReadToEndAsync();
        var errors = npm.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(180));
        try
        {
            await npm.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            npm.Kill(entireProcessTree: true);
            throw new TimeoutException($"'npm ci' in {ScriptFolder} did not finish in 180 s: {await errors}");
        }

        Assert.True(npm.ExitCode == 0, $"'npm ci' in {ScriptFolder} exited {npm.ExitCode}: {await output}{await errors}");
    }

    private async Task AssertOutput(JsonElement seen, int tokens)
    {
        using var client = cluster.Tenant(2);
        var job = await client.GetAsync(seen.GetProperty("id").GetString()!);
        Assert.Equal(JobStatus.Completed, job.Status);
        Assert.Equal(tokens, job.Usage.CompletionTokens);
        Assert.Equal(job.Output, seen.GetProperty("text").GetString());
    }
}
