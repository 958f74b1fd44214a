using Scheduler.Tests.EndToEnd;
using Scheduler.Tests.Faults;
using Xunit.Abstractions;

namespace Scheduler.Tests.Worker.Registration;

/// <summary>
/// A worker whose scheduler is down says so once, not at every heartbeat, and says when it is reachable again. Measured
/// before (2026-12-07, a silo process killed for 60 s under a connected worker, default 2 s heartbeats): 32 warning
/// lines, one per failed heartbeat — ~1,900 an hour per worker. A silo process killed and restarted on its ports, the
/// worker as its own process.
/// </summary>
public sealed class SchedulerOutageLogTests(ITestOutputHelper output)
{
    private const string NodeToken = "outage-node-token";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task SiloDownForSeconds_TheWorkerWarnsOnce_AndSaysWhenTheSchedulerIsReachableAgain()
    {
        // Heartbeats every 0.5 s: the 10 s outage is 20 failed heartbeats, each a warning line before.
        string[] args =
        [
            $"--Scheduler:NodeToken={NodeToken}", "--Scheduler:AdminApiKey=outage-admin-key", "--Scheduler:EmbeddedFleet:Enabled=false",
            "--Scheduler:Models:0:Name=outage-model", "--Scheduler:Scheduling:HeartbeatInterval=00:00:00.5",
            "--Scheduler:Scheduling:NodeLease=00:00:03", "--Logging:LogLevel:Default=Warning",
        ];
        var silo = SiloProcess.Start(0, args);
        SiloProcess? restarted = null;
        ChildProcess? worker = null;
        try
        {
            await FaultCluster.WaitServing(silo, Timeout);
            worker = ChildProcess.Start("dotnet",
            [
                RepoPaths.WorkerAssembly, $"--Worker:SchedulerAddress={silo.Address}", $"--Worker:NodeToken={NodeToken}",
                "--Worker:NodeId=outage-node", "--Worker:Accelerators:0:Model=outage-model",
                "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Scheduler.Worker.Registration=Information",
            ], keepOutput: true);
            await Polling.Until(() => Lines(worker, "registered with").Count == 1, "the worker registered", Timeout, TimeSpan.FromMilliseconds(100));

            var killedAt = worker.Output.Count;
            silo.Kill();
            using (var exit = new CancellationTokenSource(Timeout))
            {
                await silo.WaitForExitAsync(exit.Token);
            }

            await Task.Delay(TimeSpan.FromSeconds(10));
            var outage = worker.Output.Skip(killedAt).Where(line => line.StartsWith("warn:", StringComparison.Ordinal)).ToList();

            // The first failed heartbeat in full; a refused connection and a call cut off by the kill may be two statuses.
            Assert.InRange(outage.Count, 1, 2);
            Assert.Contains(silo.Address, outage[0], StringComparison.Ordinal);
            Assert.Contains("Heartbeat of node outage-node", outage[0], StringComparison.Ordinal);
            Assert.Empty(Lines(worker, "reachable again"));

            restarted = SiloProcess.StartInPlaceOf(silo, 1, args);
            await Polling.Until(() => Lines(worker, "registered with").Count == 2, "the worker registered again", Timeout, TimeSpan.FromMilliseconds(100));
            var recovered = Assert.Single(Lines(worker, "reachable again"));
            Assert.StartsWith("info:", recovered, StringComparison.Ordinal);
            Assert.Matches(@"after \d+m \d\ds unreachable and \d+ failed attempts", recovered);
            output.WriteLine(string.Join('\n', worker.Output.Skip(killedAt)));
        }
        finally
        {
            if (worker is not null)
            {
                await worker.DisposeAsync();
            }

            await silo.DisposeAsync();
            if (restarted is not null)
            {
                await restarted.DisposeAsync();
            }
        }
    }

    private static List<string> Lines(ChildProcess worker, string text) =>
        [.. worker.Output.Where(line => line.Contains(text, StringComparison.Ordinal))];
}
