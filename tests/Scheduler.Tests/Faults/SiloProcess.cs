using System.Diagnostics;
using Scheduler.Tests.EndToEnd;

namespace Scheduler.Tests.Faults;

/// <summary>A scheduler silo running as its own OS process; killed (by PID) when disposed. Its output is kept for
/// the test's log.</summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _output = [];

    private SiloProcess(Process process, string address, int index)
    {
        _process = process;
        Address = address;
        Index = index;
    }

    public string Address { get; }

    public int Index { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public IReadOnlyList<string> Output
    {
        get
        {
            lock (_output)
            {
                return [.. _output];
            }
        }
    }

    public static SiloProcess Start(int index, IEnumerable<string> args)
    {
        var grpcPort = FreePort.Next();
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(RepoPaths.Assembly("Scheduler.Silo"));
        info.ArgumentList.Add($"--Scheduler:GrpcPort={grpcPort}");
        info.ArgumentList.Add($"--Scheduler:HttpPort={FreePort.Next()}");
        info.ArgumentList.Add($"--Scheduler:SiloPort={FreePort.Next()}");
        info.ArgumentList.Add($"--Scheduler:GatewayPort={FreePort.Next()}");
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start a silo");
        var silo = new SiloProcess(process, $"http://127.0.0.1:{grpcPort}", index);
        process.OutputDataReceived += (_, e) => silo.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => silo.Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return silo;
    }

    /// <summary>Ends the process at once, as a crash would (SIGKILL).</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
        }
    }

    /// <summary>Asks the process to stop (SIGTERM), as Kubernetes does before a rolling restart.</summary>
    public void Terminate()
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    public Task WaitForExitAsync(CancellationToken cancellationToken) => _process.WaitForExitAsync(cancellationToken);

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            if (_output.Count < 5_000)
            {
                _output.Add(line);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}
