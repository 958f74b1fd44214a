using System.Diagnostics;

namespace Scheduler.Tests.EndToEnd;

/// <summary>A worker node running as its own OS process; stopped (by PID) when disposed.</summary>
public sealed class WorkerProcess : IAsyncDisposable
{
    private readonly Process _process;

    private WorkerProcess(Process process) => _process = process;

    public int Pid => _process.Id;

    public static WorkerProcess Start(string nodeId, string schedulerAddress, string speedUp, params (string Product, int Count, int? MaxSequences)[] accelerators) =>
        Start(nodeId, schedulerAddress, speedUp, model: null, accelerators);

    /// <summary>Starts a node whose accelerators serve <paramref name="model"/> (the worker's default when null).</summary>
    public static WorkerProcess Start(string nodeId, string schedulerAddress, string speedUp, string? model, params (string Product, int Count, int? MaxSequences)[] accelerators)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(RepoPaths.WorkerAssembly);
        info.ArgumentList.Add($"--Worker:NodeId={nodeId}");
        info.ArgumentList.Add($"--Worker:SchedulerAddress={schedulerAddress}");
        info.ArgumentList.Add("--Worker:NodeToken=" + SchedulerCluster.NodeToken);
        info.ArgumentList.Add($"--Worker:SpeedUp={speedUp}");
        info.ArgumentList.Add("--Logging:LogLevel:Default=Warning");
        for (var i = 0; i < accelerators.Length; i++)
        {
            info.ArgumentList.Add($"--Worker:Accelerators:{i}:Product={accelerators[i].Product}");
            info.ArgumentList.Add($"--Worker:Accelerators:{i}:Count={accelerators[i].Count}");
            if (model is not null)
            {
                info.ArgumentList.Add($"--Worker:Accelerators:{i}:Model={model}");
            }

            if (accelerators[i].MaxSequences is { } max)
            {
                info.ArgumentList.Add($"--Worker:Accelerators:{i}:MaxSequences={max}");
            }
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start the worker node");

        // Drain its output so a chatty node never blocks on a full pipe.
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new WorkerProcess(process);
    }

    /// <summary>Ends the process at once, as a crash would.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}
