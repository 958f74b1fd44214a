using Scheduler.Tests.EndToEnd;

namespace Scheduler.Tests.Worker;

/// <summary>
/// A worker serving a model the scheduler does not serve is refused naming the model, the scheduler's setting and the
/// models it does serve; the worker says so at error level and retries seldom. An outside probe found the refusal
/// naming neither the setting nor the models, and the worker retrying it at the silo-is-down pace (every 10 s at
/// warning level, for ever). A silo on loopback, the worker as its own process.
/// </summary>
public sealed class UnservedModelTests : IAsyncLifetime
{
    private LoopbackScheduler _scheduler = null!;

    public async Task InitializeAsync() =>
        _scheduler = await LoopbackScheduler.StartAsync("served-model", "unserved-tenant", "unserved-tenant-key");

    public async Task DisposeAsync() => await _scheduler.DisposeAsync();

    [Fact]
    public async Task WorkerOfAModelTheSchedulerDoesNotServe_IsAnErrorNamingTheModelAndTheSetting_AndIsRetriedSeldom()
    {
        await using var worker = ChildProcess.Start("dotnet",
        [
            RepoPaths.WorkerAssembly, $"--Worker:SchedulerAddress={_scheduler.Address}", $"--Worker:NodeToken={LoopbackScheduler.NodeToken}",
            "--Worker:NodeId=unserved-node", "--Worker:Accelerators:0:Model=other-model", "--Logging:LogLevel:Default=Warning",
        ], keepOutput: true);

        await Polling.Until(() => worker.Output.Any(line => line.Contains("refuses its description", StringComparison.Ordinal)),
            "the refusal is logged", TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(100));

        // With the silo-is-down back-off (0.2 s doubling) five more attempts would follow within these 6 s.
        await Task.Delay(TimeSpan.FromSeconds(6));
        var refusal = Assert.Single(worker.Output, line => line.Contains("refuses its description", StringComparison.Ordinal));
        Assert.StartsWith("fail:", refusal, StringComparison.Ordinal);
        Assert.Contains("'other-model'", refusal, StringComparison.Ordinal);
        Assert.Contains("Scheduler:Models ('served-model')", refusal, StringComparison.Ordinal);
        Assert.Contains("Worker:Accelerators", refusal, StringComparison.Ordinal);
        Assert.DoesNotContain(worker.Output, line => line.Contains("could not register", StringComparison.Ordinal));
        Assert.DoesNotContain(worker.Output, line => line.TrimStart().StartsWith("at ", StringComparison.Ordinal));
        Assert.False(worker.HasExited);
    }
}
