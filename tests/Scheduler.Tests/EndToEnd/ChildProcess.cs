using System.Diagnostics;

namespace Scheduler.Tests.EndToEnd;

/// <summary>
/// A process a test starts (a worker node, a silo, redis-server): its output is drained so a chatty child never
/// blocks on a full pipe (and kept, up to a cap, when asked), and it is stopped by its PID — killed, or sent
/// SIGTERM as Kubernetes would — never by name.
/// </summary>
public sealed class ChildProcess : IAsyncDisposable
{
    private const int KeptLines = 5_000;

    private readonly Process _process;
    private readonly List<string>? _output;

    private ChildProcess(Process process, List<string>? output)
    {
        _process = process;
        _output = output;
    }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>The lines it wrote, when started with <c>keepOutput</c>.</summary>
    public IReadOnlyList<string> Output
    {
        get
        {
            if (_output is null)
            {
                return [];
            }

            lock (_output)
            {
                return [.. _output];
            }
        }
    }

    /// <summary>Starts <paramref name="fileName"/> with this process's environment plus <paramref name="environment"/>;
    /// with <paramref name="exactEnvironment"/> its environment is exactly <paramref name="environment"/> (as a
    /// container's is).</summary>
    public static ChildProcess Start(
        string fileName,
        IEnumerable<string> arguments,
        bool keepOutput = false,
        IReadOnlyDictionary<string, string>? environment = null,
        string? workingDirectory = null,
        bool exactEnvironment = false)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? "",
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        if (exactEnvironment)
        {
            info.Environment.Clear();
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {fileName}");
        var child = new ChildProcess(process, keepOutput ? [] : null);
        process.OutputDataReceived += (_, e) => child.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => child.Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>Ends the process at once, as a crash would (SIGKILL).</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }
    }

    /// <summary>Asks the process to stop (SIGTERM).</summary>
    public void Terminate() => Faults.ProcessSignals.TrySend("TERM", _process.Id);

    public Task WaitForExitAsync(CancellationToken cancellationToken = default) => _process.WaitForExitAsync(cancellationToken);

    private void Keep(string? line)
    {
        if (_output is null || line is null)
        {
            return;
        }

        lock (_output)
        {
            if (_output.Count < KeptLines)
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
