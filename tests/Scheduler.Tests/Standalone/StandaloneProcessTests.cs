using System.Net.Http.Headers;
using System.Text;
using System.Text.RegularExpressions;
using Scheduler.Tests.EndToEnd;

namespace Scheduler.Tests.Standalone;

/// <summary>
/// The README's first command, as a newcomer runs it: the standalone scheduler as its own process with <c>--demo</c>.
/// Its demo completes every job, and the two commands its banner suggests — schedctl and curl, copied as printed —
/// work against it. Then SIGTERM stops it cleanly.
/// </summary>
public sealed partial class StandaloneProcessTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    /// <param name="settings">More settings on its command line: none (the README's command), or the model renamed, which
    /// the embedded fleet, the demo and the banner follow (the fleet served the old name and never registered).</param>
    [Theory]
    [InlineData]
    [InlineData("--Scheduler:Models:0:Name=renamed-model")]
    public async Task Demo_CompletesEveryJob_AndTheBannersCommandsWorkAsPrinted(params string[] settings)
    {
        await using var standalone = ChildProcess.Start(
            "dotnet",
            [
                RepoPaths.Assembly("Scheduler.Standalone"), "--demo",
                $"--Scheduler:GrpcPort={FreePort.Next()}", $"--Scheduler:HttpPort={FreePort.Next()}", $"--Scheduler:OpenAiPort={FreePort.Next()}",
                $"--Scheduler:SiloPort={FreePort.Next()}", $"--Scheduler:GatewayPort={FreePort.Next()}",
                .. settings,
            ],
            keepOutput: true);
        await Polling.Until(
            () => standalone.HasExited || standalone.Output.Any(l => l.StartsWith("demo: ", StringComparison.Ordinal) && l.Contains(" jobs completed", StringComparison.Ordinal)),
            "the demo's summary", Timeout, TimeSpan.FromMilliseconds(100));
        var output = standalone.Output;
        Assert.False(standalone.HasExited, string.Join('\n', output));
        Assert.Matches(@"^demo: 60 of 60 jobs completed in ", output.Single(l => l.Contains(" jobs completed", StringComparison.Ordinal)));

        // "try: dotnet run --project src/Scheduler.Cli -- <schedctl's arguments>", run as the built schedctl.
        var tryLine = output.Single(l => l.TrimStart().StartsWith("try: ", StringComparison.Ordinal));
        var arguments = Words(tryLine[(tryLine.IndexOf(" -- ", StringComparison.Ordinal) + 4)..]);
        await using var schedctl = ChildProcess.Start("dotnet", [RepoPaths.SchedctlAssembly, .. arguments], keepOutput: true);
        using (var exit = new CancellationTokenSource(Timeout))
        {
            await schedctl.WaitForExitAsync(exit.Token);
        }

        Assert.True(schedctl.ExitCode == 0, $"{tryLine}\n{string.Join('\n', schedctl.Output)}");

        // "or: curl <url> -H '<header>' ... -d '<body>'", sent as printed.
        var curl = Words(output.Single(l => l.TrimStart().StartsWith("or: curl ", StringComparison.Ordinal)));
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, curl[curl.IndexOf("curl") + 1])
        {
            Content = new StringContent(curl[curl.IndexOf("-d") + 1], Encoding.UTF8, "application/json"),
        };
        var authorization = curl.Single(w => w.StartsWith("Authorization: Bearer ", StringComparison.Ordinal));
        request.Headers.Authorization = AuthenticationHeaderValue.Parse(authorization["Authorization: ".Length..]);
        using var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {body}");
        Assert.Contains("\"object\":\"chat.completion\"", body, StringComparison.Ordinal);

        Assert.All(settings, setting => Assert.Contains(setting.Split('=')[1], tryLine, StringComparison.Ordinal));

        standalone.Terminate();
        using var stopped = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await standalone.WaitForExitAsync(stopped.Token);
        Assert.Equal(0, standalone.ExitCode);
    }

    [Fact]
    public async Task Demo_WithTheEmbeddedFleetOff_SaysSoAndRunsOnceAWorkerRegisters()
    {
        var grpcPort = FreePort.Next();
        await using var standalone = ChildProcess.Start(
            "dotnet",
            [
                RepoPaths.Assembly("Scheduler.Standalone"), "--demo", "--Scheduler:EmbeddedFleet:Enabled=false",
                $"--Scheduler:NodeToken={SchedulerCluster.NodeToken}",
                $"--Scheduler:GrpcPort={grpcPort}", $"--Scheduler:HttpPort={FreePort.Next()}", $"--Scheduler:OpenAiPort={FreePort.Next()}",
                $"--Scheduler:SiloPort={FreePort.Next()}", $"--Scheduler:GatewayPort={FreePort.Next()}",
            ],
            keepOutput: true);
        await Polling.Until(
            () => standalone.HasExited || standalone.Output.Any(l => l.StartsWith("demo: no worker serves 'llama-3.1-8b' yet", StringComparison.Ordinal)),
            "the demo to say it waits for a worker", Timeout, TimeSpan.FromMilliseconds(100));
        Assert.False(standalone.HasExited, string.Join('\n', standalone.Output));

        await using var worker = WorkerProcess.Start("late-worker", $"http://127.0.0.1:{grpcPort}", "instant", ("A100", 1, null));
        await Polling.Until(
            () => standalone.HasExited || standalone.Output.Any(l => l.Contains(" jobs completed", StringComparison.Ordinal)),
            "the demo's summary", Timeout, TimeSpan.FromMilliseconds(100));
        Assert.Contains(standalone.Output, l => l.StartsWith("demo: 60 of 60 jobs completed in ", StringComparison.Ordinal));
    }

    /// <summary>A printed command's words as a shell splits them: quoted ones ('…' or "…") whole, without their quotes.</summary>
    private static List<string> Words(string command) =>
        [.. ShellWord().Matches(command).Select(m => m.Value.Length > 1 && m.Value[0] is '\'' or '"' && m.Value[^1] == m.Value[0] ? m.Value[1..^1] : m.Value)];

    [GeneratedRegex("""'[^']*'|"[^"]*"|\S+""")]
    private static partial Regex ShellWord();
}
