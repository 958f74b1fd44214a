using Scheduler.Tests.EndToEnd;

namespace Scheduler.Tests.Faults;

/// <summary>A scheduler silo running as its own OS process on free ports; killed (by PID) when disposed. Its output
/// is kept for the test's log.</summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private readonly ChildProcess _process;
    private readonly SiloPorts _ports;

    private SiloProcess(ChildProcess process, SiloPorts ports, int index)
    {
        _process = process;
        _ports = ports;
        Index = index;
    }

    public string Address => $"http://127.0.0.1:{_ports.Grpc}";

    /// <summary>The HTTP/1.1 port's address: /metrics, /healthz.</summary>
    public string HttpAddress => $"http://127.0.0.1:{_ports.Http}";

    /// <summary>The root of its OpenAI-compatible HTTP API.</summary>
    public string OpenAiAddress => $"http://127.0.0.1:{_ports.OpenAi}";

    public int Index { get; }

    public int Pid => _process.Pid;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public IReadOnlyList<string> Output => _process.Output;

    /// <summary>Starts a silo; <paramref name="environment"/> is set for it on top of this process's own variables (e.g. OTEL_*).</summary>
    public static SiloProcess Start(int index, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null) =>
        Launch(index, new SiloPorts(FreePort.Next(), FreePort.Next(), FreePort.Next(), FreePort.Next(), FreePort.Next()), args, environment);

    /// <summary>
    /// Starts a silo in place of <paramref name="exited"/>, on its ports, as a restarted service or pod comes back on
    /// its configured ones. Joining, it finds the exited silo's membership entry on its own address and marks it dead at
    /// once (an older generation of itself). On other ports nothing would: with no live silo left to vote the dead one
    /// out, the joining silo probes it until its entry goes stale (Orleans: 3 missed 30 s I-am-alive writes, ~90 s).
    /// </summary>
    public static SiloProcess StartInPlaceOf(SiloProcess exited, int index, IEnumerable<string> args)
    {
        if (!exited.HasExited)
        {
            throw new InvalidOperationException($"silo {exited.Index} still runs on the ports its replacement needs");
        }

        return Launch(index, exited._ports, args, environment: null);
    }

    private static SiloProcess Launch(int index, SiloPorts ports, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment)
    {
        string[] settings =
        [
            RepoPaths.Assembly("Scheduler.Silo"),
            $"--Scheduler:GrpcPort={ports.Grpc}", $"--Scheduler:HttpPort={ports.Http}", $"--Scheduler:OpenAiPort={ports.OpenAi}",
            $"--Scheduler:SiloPort={ports.Silo}", $"--Scheduler:GatewayPort={ports.Gateway}",
        ];
        var process = ChildProcess.Start("dotnet", [.. settings, .. args], keepOutput: true, environment);
        return new SiloProcess(process, ports, index);
    }

    /// <summary>Ends the process at once, as a crash would (SIGKILL).</summary>
    public void Kill() => _process.Kill();

    /// <summary>Asks the process to stop (SIGTERM), as Kubernetes does before a rolling restart.</summary>
    public void Terminate() => _process.Terminate();

    public Task WaitForExitAsync(CancellationToken cancellationToken) => _process.WaitForExitAsync(cancellationToken);

    public ValueTask DisposeAsync() => _process.DisposeAsync();

    private sealed record SiloPorts(int Grpc, int Http, int OpenAi, int Silo, int Gateway);
}
