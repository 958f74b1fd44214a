using System.Diagnostics;
using System.Text;
using Scheduler.Tests.EndToEnd;

namespace Scheduler.Tests.Cli;

/// <summary>schedctl running as its own process while a test acts on the cluster: stdout and stderr kept apart and
/// read as they come (tokens arrive without line ends), stdin closed; killed by its PID if still running when disposed.</summary>
internal sealed class SchedctlProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly Task _readingStdout;
    private readonly Task<string> _stderr;

    private SchedctlProcess(Process process)
    {
        _process = process;
        _readingStdout = ReadAsync(process.StandardOutput);
        _stderr = process.StandardError.ReadToEndAsync();
    }

    /// <summary>What it wrote to stdout so far.</summary>
    public string Stdout
    {
        get
        {
            lock (_stdout)
            {
                return _stdout.ToString();
            }
        }
    }

    public static SchedctlProcess Start(params string[] arguments)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(RepoPaths.SchedctlAssembly);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start schedctl");
        process.StandardInput.Close();
        return new SchedctlProcess(process);
    }

    /// <summary>Waits until it has written something to stdout; fails, with what it wrote to stderr, if it exits first
    /// or <paramref name="timeout"/> passes.</summary>
    public async Task WaitForStdoutAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (Stdout.Length == 0)
        {
            if (_process.HasExited || DateTime.UtcNow > deadline)
            {
                Assert.Fail($"schedctl wrote nothing to stdout ({(_process.HasExited ? $"exited {_process.ExitCode}" : "still running")}): " +
                    (_process.HasExited ? await _stderr : ""));
            }

            await Task.Delay(20);
        }
    }

    /// <summary>Asks it to stop (SIGTERM), as a shell's kill or a CI runner's timeout does.</summary>
    public void Terminate() => Faults.ProcessSignals.TrySend("TERM", _process.Id);

    /// <summary>Waits for it to exit: its exit code, stdout and stderr.</summary>
    public async Task<(int ExitCode, string Stdout, string Stderr)> WaitForExitAsync(TimeSpan timeout)
    {
        using var stop = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(stop.Token);
        await _readingStdout;
        return (_process.ExitCode, Stdout, await _stderr);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private async Task ReadAsync(StreamReader reader)
    {
        var buffer = new char[4096];
        int read;
        while ((read = await reader.ReadAsync(buffer)) > 0)
        {
            lock (_stdout)
            {
                _stdout.Append(buffer, 0, read);
            }
        }
    }
}
