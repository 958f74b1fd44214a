using Scheduler.Tests.EndToEnd;

namespace Scheduler.Tests.Faults;

/// <summary>A scheduler silo running as its own OS process on free ports; killed (by PID) when disposed. Its output
/// is kept for the test's log.</summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private readonly ChildProcess _process;

    private SiloProcess(ChildProcess process, string address, string httpAddress, string openAiAddress, int index)
    {
        _process = process;
        Address = address;
        HttpAddress = httpAddress;
        OpenAiAddress = openAiAddress;
        Index = index;
    }

    public string Address { get; }

    /// <summary>The HTTP/1.1 port's address: /metrics, /healthz.</summary>
    public string HttpAddress { get; }

    /// <summary>The root of its OpenAI-compatible HTTP API.</summary>
    public string OpenAiAddress { get; }

    public int Index { get; }

    public int Pid => _process.Pid;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public IReadOnlyList<string> Output => _process.Output;

    /// <summary>Starts a silo; <paramref name="environment"/> is set for it on top of this process's own variables (e.g. OTEL_*).</summary>
    public static SiloProcess Start(int index, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var grpcPort = FreePort.Next();
        var httpPort = FreePort.Next();
        var openAiPort = FreePort.Next();
        string[] ports =
        [
            RepoPaths.Assembly("Scheduler.Silo"),
            $"--Scheduler:GrpcPort={grpcPort}", $"--Scheduler:HttpPort={httpPort}", $"--Scheduler:OpenAiPort={openAiPort}",
            $"--Scheduler:SiloPort={FreePort.Next()}", $"--Scheduler:GatewayPort={FreePort.Next()}",
        ];
        var process = ChildProcess.Start("dotnet", [.. ports, .. args], keepOutput: true, environment);
        return new SiloProcess(process, $"http://127.0.0.1:{grpcPort}", $"http://127.0.0.1:{httpPort}", $"http://127.0.0.1:{openAiPort}", index);
    }

    /// <summary>Ends the process at once, as a crash would (SIGKILL).</summary>
    public void Kill() => _process.Kill();

    /// <summary>Asks the process to stop (SIGTERM), as Kubernetes does before a rolling restart.</summary>
    public void Terminate() => _process.Terminate();

    public Task WaitForExitAsync(CancellationToken cancellationToken) => _process.WaitForExitAsync(cancellationToken);

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
