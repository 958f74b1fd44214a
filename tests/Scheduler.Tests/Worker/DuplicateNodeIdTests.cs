using Scheduler.Abstractions.Fleet;
using Scheduler.Tests.EndToEnd;
using Scheduler.Tests.Faults;

namespace Scheduler.Tests.Worker;

/// <summary>
/// Two worker processes given one node id (a copied config): the second is refused with an error naming the duplicate,
/// the first keeps the node, and the second takes over once the first is gone. Before, the second's registration took the
/// node silently (the first's stream dropped, its running jobs handed back), the first kept heartbeating the second's
/// lease alive as if nothing happened, and the first stopping drained and deregistered the second. A silo on loopback,
/// both workers as their own processes.
/// </summary>
public sealed class DuplicateNodeIdTests : IAsyncLifetime
{
    private const string Model = "dup-model";
    private const string NodeId = "dup-node";
    private LoopbackScheduler _scheduler = null!;

    public async Task InitializeAsync() =>
        _scheduler = await LoopbackScheduler.StartAsync(Model, "dup-tenant", "dup-tenant-key",
            "--Scheduler:Scheduling:HeartbeatInterval=00:00:00.5", "--Scheduler:Scheduling:NodeLease=00:00:03");

    public async Task DisposeAsync() => await _scheduler.DisposeAsync();

    [Fact]
    public async Task SecondWorkerWithTheSameNodeId_IsRefusedNamingTheDuplicate_AndTakesOverOnceTheFirstIsGone()
    {
        await using var first = StartWorker();
        var firstAddress = await HoldsTheNodeAsync(first);
        await using var second = StartWorker();
        await RefusedAsync(second);
        var refusal = second.Output.First(line => line.Contains("another running worker holds its node id", StringComparison.Ordinal));
        Assert.StartsWith("fail:", refusal, StringComparison.Ordinal);
        Assert.Contains(firstAddress, refusal, StringComparison.Ordinal);
        Assert.Contains("Worker:NodeId", refusal, StringComparison.Ordinal);

        // Several heartbeats and refused attempts later the first still holds the node on the same stream.
        await Task.Delay(TimeSpan.FromSeconds(3));
        var held = await Node();
        Assert.Equal(firstAddress, held.Registration?.Address);
        Assert.True(held.Connected);
        Assert.DoesNotContain(second.Output, line => line.Contains("registered with", StringComparison.Ordinal));
        Assert.DoesNotContain(first.Output, line => line.Contains("does not know node", StringComparison.Ordinal));

        // The holder gone (its stream breaks), the one standing by registers.
        first.Kill();
        Assert.NotEqual(firstAddress, await HoldsTheNodeAsync(second));
    }

    // The holder frozen past its lease (a stalled VM) is lost and the one standing by takes the node; the holder thawing
    // must not take it back, keep its lease alive, nor — stopping — drain and deregister it.
    [Fact]
    public async Task FormerHolderThawing_IsRefused_AndItsStopNeitherDrainsNorDeregistersTheNewHolder()
    {
        await using var first = StartWorker();
        await HoldsTheNodeAsync(first);
        await using var second = StartWorker();
        await RefusedAsync(second);

        ProcessSignals.Send("STOP", first.Pid);
        string secondAddress;
        try
        {
            secondAddress = await HoldsTheNodeAsync(second);
        }
        finally
        {
            ProcessSignals.Send("CONT", first.Pid);
        }

        await RefusedAsync(first);
        first.Terminate();
        await first.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));

        await Task.Delay(TimeSpan.FromSeconds(2));
        var held = await Node();
        Assert.Equal(secondAddress, held.Registration?.Address);
        Assert.True(held.Connected);
        var accelerator = Assert.Single(held.Registration!.Accelerators);
        Assert.Equal(AcceleratorState.Ready, (await _scheduler.Service<IGrainFactory>().GetGrain<IAcceleratorGrain>(accelerator.AcceleratorId).Get())?.State);
        Assert.DoesNotContain(second.Output, line => line.Contains("does not know node", StringComparison.Ordinal));
    }

    private ChildProcess StartWorker() => ChildProcess.Start("dotnet",
    [
        RepoPaths.WorkerAssembly, $"--Worker:SchedulerAddress={_scheduler.Address}", $"--Worker:NodeToken={LoopbackScheduler.NodeToken}",
        $"--Worker:NodeId={NodeId}", $"--Worker:Accelerators:0:Model={Model}", "--Worker:SpeedUp=instant",
        "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Scheduler.Worker.Registration=Information",
    ], keepOutput: true);

    private Task<NodeInfo> Node() => _scheduler.Service<IGrainFactory>().GetGrain<IWorkerNodeGrain>(NodeId).Get();

    /// <summary>Waits until <paramref name="worker"/> registered and the scheduler's node is it; its address.</summary>
    private async Task<string> HoldsTheNodeAsync(ChildProcess worker)
    {
        var address = await RegisteredAddressAsync(worker);
        await Polling.Until(async () => (await Node()).Registration?.Address == address, "the worker holds the node", TimeSpan.FromSeconds(30));
        return address;
    }

    /// <summary>Waits until <paramref name="worker"/> logs that its node id is taken.</summary>
    private static Task RefusedAsync(ChildProcess worker) =>
        Polling.Until(() => worker.Output.Any(line => line.Contains("another running worker holds its node id", StringComparison.Ordinal)),
            "the worker is told its node id is taken", TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(100));

    /// <summary>The address the worker registered with, from its "registered with" log line.</summary>
    private static async Task<string> RegisteredAddressAsync(ChildProcess worker)
    {
        string? line = null;
        await Polling.Until(() => (line = worker.Output.FirstOrDefault(l => l.Contains("registered with", StringComparison.Ordinal))) is not null,
            "the worker registers", TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(100));
        var at = line!.IndexOf(" at ", StringComparison.Ordinal) + 4;
        return line[at..line.IndexOf(' ', at)];
    }
}
