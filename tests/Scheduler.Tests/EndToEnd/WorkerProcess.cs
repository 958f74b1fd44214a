namespace Scheduler.Tests.EndToEnd;

/// <summary>A worker node running as its own OS process; stopped (by PID) when disposed.</summary>
public sealed class WorkerProcess : IAsyncDisposable
{
    private readonly ChildProcess _process;

    private WorkerProcess(ChildProcess process) => _process = process;

    public int Pid => _process.Pid;

    public static WorkerProcess Start(string nodeId, string schedulerAddress, string speedUp, params (string Product, int Count, int? MaxSequences)[] accelerators) =>
        Start(nodeId, schedulerAddress, speedUp, model: null, accelerators);

    /// <summary>Starts a node whose accelerators serve <paramref name="model"/> (the worker's default when null).</summary>
    public static WorkerProcess Start(string nodeId, string schedulerAddress, string speedUp, string? model, params (string Product, int Count, int? MaxSequences)[] accelerators) =>
        Start(nodeId, schedulerAddress, speedUp, model, settings: [], environment: null, accelerators);

    /// <summary>Starts a node with more <paramref name="settings"/> ("--Worker:…=…") on its command line and
    /// <paramref name="environment"/> set on top of this process's variables (e.g. OTEL_*).</summary>
    /// <remarks>A null <paramref name="nodeId"/> leaves the worker its default id.</remarks>
    public static WorkerProcess Start(
        string? nodeId,
        string schedulerAddress,
        string speedUp,
        string? model,
        IEnumerable<string> settings,
        IReadOnlyDictionary<string, string>? environment,
        params (string Product, int Count, int? MaxSequences)[] accelerators)
    {
        var args = new List<string> { RepoPaths.WorkerAssembly };
        args.AddRange(settings);
        if (nodeId is not null)
        {
            args.Add($"--Worker:NodeId={nodeId}");
        }

        args.Add($"--Worker:SchedulerAddress={schedulerAddress}");
        args.Add("--Worker:NodeToken=" + SchedulerCluster.NodeToken);
        args.Add($"--Worker:SpeedUp={speedUp}");
        args.Add("--Logging:LogLevel:Default=Warning");
        for (var i = 0; i < accelerators.Length; i++)
        {
            args.Add($"--Worker:Accelerators:{i}:Product={accelerators[i].Product}");
            args.Add($"--Worker:Accelerators:{i}:Count={accelerators[i].Count}");
            if (model is not null)
            {
                args.Add($"--Worker:Accelerators:{i}:Model={model}");
            }

            if (accelerators[i].MaxSequences is { } max)
            {
                args.Add($"--Worker:Accelerators:{i}:MaxSequences={max}");
            }
        }

        return new WorkerProcess(ChildProcess.Start("dotnet", args, environment: environment));
    }

    /// <summary>Ends the process at once, as a crash would.</summary>
    public void Kill() => _process.Kill();

    /// <summary>Asks the process to stop (SIGTERM), as Kubernetes does before removing a pod.</summary>
    public void Terminate() => _process.Terminate();

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public Task WaitForExitAsync(CancellationToken cancellationToken = default) => _process.WaitForExitAsync(cancellationToken);

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
