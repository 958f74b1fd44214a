using Scheduler.Tests.EndToEnd;

namespace Scheduler.Tests.Worker;

/// <summary>
/// A worker whose node token the scheduler refuses says so at error level, naming the setting, and retries seldom — an
/// outside probe found it retrying every few seconds at warning level, for ever, each refusal counted against the host's
/// address by the silo's auth-failure limiter. A silo on loopback, the worker as its own process.
/// </summary>
public sealed class NodeTokenRefusedTests : IAsyncLifetime
{
    private LoopbackScheduler _scheduler = null!;

    public async Task InitializeAsync() =>
        _scheduler = await LoopbackScheduler.StartAsync("token-model", "token-tenant", "token-tenant-key");

    public async Task DisposeAsync() => await _scheduler.DisposeAsync();

    // A key that is nobody's (UNAUTHENTICATED), and a tenant's key given as the node token (PERMISSION_DENIED): both a
    // configuration error.
    [Theory]
    [InlineData("wrong")]
    [InlineData("token-tenant-key")]
    public async Task WrongNodeToken_IsAnErrorNamingTheSetting_AndIsRetriedSeldom(string token)
    {
        await using var worker = ChildProcess.Start("dotnet",
        [
            RepoPaths.WorkerAssembly, $"--Worker:SchedulerAddress={_scheduler.Address}", $"--Worker:NodeToken={token}",
            "--Worker:NodeId=token-node", "--Worker:Accelerators:0:Model=token-model", "--Logging:LogLevel:Default=Warning",
        ], keepOutput: true);

        await Polling.Until(() => worker.Output.Any(line => line.Contains("refuses its node token", StringComparison.Ordinal)),
            "the refusal is logged", TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(100));

        // With the silo-is-down back-off (0.2 s doubling) five more attempts would follow within these 6 s.
        await Task.Delay(TimeSpan.FromSeconds(6));
        var refusals = worker.Output.Where(line => line.Contains("refuses its node token", StringComparison.Ordinal)).ToList();
        var refusal = Assert.Single(refusals);
        Assert.StartsWith("fail:", refusal, StringComparison.Ordinal);
        Assert.Contains("Worker:NodeToken", refusal, StringComparison.Ordinal);
        Assert.DoesNotContain(worker.Output, line => line.Contains("could not register", StringComparison.Ordinal));
        Assert.False(worker.HasExited);
    }
}
