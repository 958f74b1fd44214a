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
        var output = await RunInScriptFolder("node", "check.mjs", TimeSpan.FromSeconds(120), new Dictionary<string, string>
        {
            ["OPENAI_BASE_URL"] = cluster.OpenAiAddress + "/v1",
            ["OPENAI_API_KEY"] = SchedulerCluster.Tenants[2].Key,
            ["MODEL"] = SchedulerCluster.Model,
            ["CHAT"] = chat ? "1" : "0",
        });
        return JsonDocument.Parse(output).RootElement;
    }

    private static async Task InstallPackage()
    {
        if (!File.Exists(Path.Combine(ScriptFolder, "node_modules", "openai", "package.json")))
        {
            await RunInScriptFolder("npm", "ci --no-audit --no-fund", TimeSpan.FromSeconds(180), new Dictionary<string, string>());
        }
    }

    /// <summary>Runs <paramref name="command"/> in tests/openai-node to its end and returns what it printed; fails the
    /// test when it cannot start (a missing node or npm throws: the test fails, it does not skip), exits non-zero or
    /// outlasts <paramref name="timeout"/>.</summary>
    private static async Task<string> RunInScriptFolder(string command, string arguments, TimeSpan timeout, Dictionary<string, string> environment)
    {
        var start = new ProcessStartInfo(command, arguments)
        {
            WorkingDirectory = ScriptFolder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var stop = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(stop.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"'{command} {arguments}' did not finish in {timeout.TotalSeconds} s: {await errors}");
        }

        Assert.True(process.ExitCode == 0, $"'{command} {arguments}' exited {process.ExitCode}: {await errors}");
        return await output;
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
