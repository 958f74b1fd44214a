using Scheduler.Protos.Settings;
using Scheduler.Tests.EndToEnd;
using Scheduler.Worker.Hosting;

namespace Scheduler.Tests.Worker;

/// <summary>The worker process checks its settings before it binds them: a value that does not convert is one line and
/// exit code 2 (it aborted the binder with a stack trace, or inside an accelerator's entry made the binder drop the
/// accelerator without a word), and a key no setting reads is warned of, with the key it most likely meant.</summary>
public sealed class WorkerSettingsTests
{
    // Every key the Helm chart sets on a worker pod with its examples, as of this change.
    private static readonly string[] ChartKeys =
    [
        "Accelerators:0:Count", "Accelerators:0:Model", "Accelerators:0:PricePerHourUsd", "Accelerators:0:PricePerMillionInputTokensUsd",
        "Accelerators:0:PricePerMillionOutputTokensUsd", "Accelerators:0:Product", "AdvertisedHost", "Engine", "HealthPort", "Model:Path",
        "NodeId", "NodeToken", "Port", "SchedulerAddress", "SpeedUp", "Tls:CertificatePath", "Tls:KeyPath", "Tls:TrustedCaPath",
        "Upstream:ApiKeyEnvironmentVariable", "Upstream:BaseUrl", "Upstream:Model", "Accelerators:0:MaxContextTokens", "Accelerators:0:Pool",
        "Upstream:Slots", "Upstream:RequestsPerMinute", "Upstream:TokensPerMinute", "Upstream:ChatOnly", "Upstream:ConnectTimeoutSeconds",
        "Upstream:IdleTimeoutSeconds", "DrainTimeoutSeconds",
    ];

    private static readonly KnownSettings Known = new([(WorkerNodeOptions.SectionName, typeof(WorkerNodeOptions))]);

    [Fact]
    public void Unknown_EveryKeyTheChartSets_IsKnown()
    {
        Assert.Empty(Known.Unknown(ChartKeys.Select(k => KeyValuePair.Create($"Worker:{k}", (string?)"1"))));
    }

    [Theory]
    [InlineData("--Worker:Accelerators:0:Count=abc", "Failed to convert configuration value 'abc' at 'Worker:Accelerators:0:Count' to type 'System.Int32'.")]
    [InlineData("--Worker:Port=abc", "Failed to convert configuration value 'abc' at 'Worker:Port' to type 'System.Int32'.")]
    [InlineData("--Worker:Port=99999", "Worker:Port must be a port from 0 to 65535 (0 = any free port), not 99999.")]
    [InlineData("--Worker:HealthPort=-1", "Worker:HealthPort must be 0 (none) or a port from 1 to 65535 other than Worker:Port, not -1.")]
    [InlineData("--Worker:DrainTimeoutSeconds=-1", "Worker:DrainTimeoutSeconds must be from 0 (hand everything back at once) to 3600, not -1.")]
    [InlineData("--Worker:NodeToken=", "Worker:NodeToken (environment Worker__NodeToken) is empty: it must be the scheduler's Scheduler:NodeToken.")]
    [InlineData("--Worker:NodeToken=   ", "Worker:NodeToken (environment Worker__NodeToken) is only whitespace: it must be the scheduler's Scheduler:NodeToken.")]
    public async Task Worker_ASettingThatCannotWork_ExitsWithCode2_AndOneLineNamingIt(string setting, string refusal)
    {
        await using var worker = ChildProcess.Start("dotnet", [RepoPaths.WorkerAssembly, setting], keepOutput: true);
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        await worker.WaitForExitAsync(bound.Token);

        Assert.Equal(2, worker.ExitCode);
        Assert.Equal([refusal], worker.Output.Where(line => line.Length > 0));
    }

    // A node token that cannot arrive as set, in the environment as a Kubernetes Secret puts it: a line break at its end
    // (a Secret written with echo) failed every registration with an HTTP/2 protocol error naming nothing, retried at
    // warning level for ever; a leading space registered the node, whose own check then refused the silo's stream to
    // it, every heartbeat. Refused at start-up, naming the setting and never the value.
    [Theory]
    [InlineData("tok-s3cret\n")]
    [InlineData(" tok-s3cret")]
    public async Task Worker_ANodeTokenPaddedWithWhitespace_ExitsWithCode2_NamingTheSettingNotTheValue(string token)
    {
        await using var worker = ChildProcess.Start(
            "dotnet", [RepoPaths.WorkerAssembly, "--Worker:NodeId=padded-token"], keepOutput: true, environment: new Dictionary<string, string> { ["Worker__NodeToken"] = token });
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        await worker.WaitForExitAsync(bound.Token);

        Assert.Equal(2, worker.ExitCode);
        Assert.Equal(
            ["Worker:NodeToken (environment Worker__NodeToken) begins or ends with whitespace or a line break (a Secret or file written with echo ends with one): it must be the scheduler's Scheduler:NodeToken."],
            worker.Output.Where(line => line.Length > 0));
        Assert.DoesNotContain(worker.Output, line => line.Contains("s3cret", StringComparison.Ordinal));
    }

    // A port another process holds: one line naming both port settings and exit code 1, not an unhandled exception's
    // abort (exit 134) after a page of stack trace.
    [Theory]
    [InlineData("Port")]
    [InlineData("HealthPort")]
    public async Task Worker_APortInUse_ExitsWithCode1_AndALineNamingThePortSettings(string setting)
    {
        using var holder = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        holder.Start();
        var port = ((System.Net.IPEndPoint)holder.LocalEndpoint).Port;
        await using var worker = ChildProcess.Start("dotnet", [RepoPaths.WorkerAssembly, $"--Worker:{setting}={port}", "--Worker:NodeId=port-in-use"], keepOutput: true);
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        await worker.WaitForExitAsync(bound.Token);

        Assert.Equal(1, worker.ExitCode);
        var refusal = Assert.Single(worker.Output, line => line.StartsWith("worker failed to start:", StringComparison.Ordinal));
        Assert.Contains($"127.0.0.1:{port}", refusal, StringComparison.Ordinal);
        Assert.Contains($"Worker:{setting} ({port})", refusal, StringComparison.Ordinal);
        Assert.DoesNotContain(worker.Output, line => line.StartsWith("Unhandled exception", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Worker_AMisspeltKey_IsWarnedOf_NamingTheKeyItMeant()
    {
        await using var worker = ChildProcess.Start("dotnet", [RepoPaths.WorkerAssembly, "--Worker:Acelerators:0:Count=2", "--Worker:Port=99999"], keepOutput: true);
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        await worker.WaitForExitAsync(bound.Token);

        Assert.Contains(
            "warning: Worker:Acelerators:0:Count is not a setting the worker reads: ignored (did you mean Worker:Accelerators:0:Count?)", worker.Output);
    }
}
