using Scheduler.Tests.EndToEnd;
using Scheduler.Tests.Faults;
using Xunit.Abstractions;

namespace Scheduler.Tests.Deploy;

/// <summary>What a boot test started — processes, a redis-server, folders — stopped by PID and deleted on dispose.</summary>
internal sealed class BootedProcesses(ITestOutputHelper output) : IAsyncDisposable
{
    private readonly List<(string Name, ChildProcess Process)> _processes = [];

    public RedisServer? Redis { get; set; }

    public List<string> Folders { get; } = [];

    public void Add(string name, ChildProcess process) => _processes.Add((name, process));

    public ChildProcess Process(string name) => _processes.Single(p => p.Name == name).Process;

    /// <summary>Writes every process's last lines to the test output (when the test fails).</summary>
    public void DumpLogs(int lines = 60)
    {
        foreach (var (name, process) in _processes)
        {
            output.WriteLine($"--- {name} (pid {process.Pid}{(process.HasExited ? $", exited {process.ExitCode}" : "")}) ---");
            foreach (var line in process.Output.TakeLast(lines))
            {
                output.WriteLine(line);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Workers first, then silos, then Redis: the reverse of the start.
        for (var i = _processes.Count - 1; i >= 0; i--)
        {
            await _processes[i].Process.DisposeAsync();
        }

        if (Redis is not null)
        {
            await Redis.DisposeAsync();
        }

        foreach (var folder in Folders)
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
